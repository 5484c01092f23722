"""A synthetic Wikidata dump of any size, in the official JSON dump layout, for scale benchmarks.

    python -m bench.synthetic_dump --entities 1000000 --out /tmp/synthetic-1m.json.gz [--seed 1]

Shape, not content, is realistic: entity *i* has popularity rank *i* (sitelink counts and the
chance of being the target of other entities' item claims both fall off as a power law), 1-10
English aliases drawn Zipf-like from one shared pool of names (so popular names are
ambiguous, as "Paris" or "Jackson" are, Zipf-Mandelbrot so no name is absurdly common), person names from shared given-name and surname pools,
``P31`` types (a share of ``Q5`` humans, so the build also indexes surnames), item claims,
time claims with ``P580``/``P582`` qualifiers, quantities, strings and external ids.

Everything is clearly synthetic: QIDs start at ``Q900000000`` (``--qid-base``), labels are
made-up words and descriptions say "synthetic". Files are generated at run time, never committed.
"""
from __future__ import annotations

import argparse
import gzip
import math
import random
import sys
import time

import orjson

QID_BASE = 900_000_000
HUMAN = "Q5"
N_CLASSES = 40                       # the first entities are the classes others are typed with
CLASS_NAMES = ["city", "company", "political party", "country", "river", "newspaper", "university",
               "football club", "government agency", "band", "film", "album", "village", "airport",
               "hospital", "bank", "ship", "mountain", "election", "treaty"]
WIKIS = ["enwiki"] + [f"{code}wiki" for code in (
    "de fr es it nl pl ru ja zh pt sv uk ca fa ar no fi ko hu cs id tr ro he vi sr da bg eo el "
    "eu ms sk hy lt et sl hr gl nn hi az th la ka bn ta be ur kk uz mk lv sq cy ast af bs is "
    "ml te mr ga oc sw lb br jv io an tl ky ne fy pa sco war ceb min tt su mn gu kn als yo ba "
    "cv vo my sah nds ku si mg sa am ps ht qu bar lmo scn").split()]
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + \
            [c + v + e for c in "bdgkmnrst" for v in "aeiou" for e in "lnrs"]
SUFFIXES = ["", "", "", " Group", " River", " City", " Party", " University", " FC", " Airport",
            " Times", " Bank", " Institute", " Council", " Records"]
ITEM_PROPERTIES = ["P17", "P131", "P463", "P159", "P361", "P127", "P749", "P27", "P19", "P69"]
HELD_PROPERTIES = ["P39", "P108", "P102", "P54"]        # with start/end qualifiers
TIME_PROPERTIES = ["P569", "P571", "P576", "P580"]
QUANTITY_PROPERTIES = ["P1082", "P2139", "P1128", "P2046"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def _zipf_index(rng: random.Random, n: int) -> int:
    """0..n-1, P(i) ~ 1/(i+1): log-uniform, the heavy head of news popularity (claim targets)."""
    return min(n - 1, int(math.exp(rng.random() * math.log(n + 1))) - 1)


NAME_FLATTENING = 100


def _name_index(rng: random.Random, n: int, k: int = NAME_FLATTENING) -> int:
    """0..n-1, P(i) ~ 1/(i+k) (Zipf-Mandelbrot): names are shared, but the most common one is
    borne by ~0.1-0.2% of entities, as "Smith" is among people; plain Zipf would give one name
    to 8% of all entities and make every candidate list absurdly long."""
    return min(n - 1, int(k * math.exp(rng.random() * math.log((n + k) / k)) - k))


class Vocabulary:
    """Shared pools of names: the source of ambiguity between entities."""

    def __init__(self, rng: random.Random, n_entities: int):
        self.given = [_word(rng) for _ in range(2000)]
        self.surnames = [_word(rng) for _ in range(max(2000, n_entities // 50))]
        pool = max(1000, n_entities // 5)
        self.names = [" ".join(_word(rng) for _ in range(rng.choice((1, 1, 2, 2, 3))))
                      for _ in range(pool)]


def _item(pid: str, qid: str) -> dict:
    return {"mainsnak": {"snaktype": "value", "property": pid, "datatype": "wikibase-item",
                         "datavalue": {"value": {"entity-type": "item", "numeric-id": int(qid[1:]),
                                                 "id": qid}, "type": "wikibase-entityid"}},
            "type": "statement", "rank": "normal"}


def _time_snak(pid: str, year: int, month: int, day: int) -> dict:
    return {"snaktype": "value", "property": pid, "datatype": "time",
            "datavalue": {"value": {"time": f"+{year:04d}-{month:02d}-{day:02d}T00:00:00Z",
                                    "timezone": 0, "before": 0, "after": 0, "precision": 11,
                                    "calendarmodel": "http://www.wikidata.org/entity/Q1985727"},
                          "type": "time"}}


def _string(pid: str, value: str, datatype: str = "string") -> dict:
    return {"mainsnak": {"snaktype": "value", "property": pid, "datatype": datatype,
                         "datavalue": {"value": value, "type": "string"}},
            "type": "statement", "rank": "normal"}


class EntityFactory:
    """Builds entity *i* of *n* as the JSON object a Wikidata dump line holds."""

    def __init__(self, n: int, seed: int, qid_base: int = QID_BASE):
        self.n, self.qid_base = n, qid_base
        self.rng = random.Random(seed)
        self.vocab = Vocabulary(self.rng, n)
        self.n_classes = min(N_CLASSES, max(1, n // 10))

    def qid(self, i: int) -> str:
        return f"Q{self.qid_base + i}"

    def _target(self) -> str:
        """An item claim target: popular entities are pointed at far more often."""
        return self.qid(_zipf_index(self.rng, self.n))

    def entity(self, i: int) -> dict:
        rng, vocab = self.rng, self.vocab
        qid = self.qid(i)
        if i < self.n_classes:
            kind = CLASS_NAMES[i % len(CLASS_NAMES)]
            label, types, human = f"{kind} {i // len(CLASS_NAMES) or ''}".strip(), [], False
        else:
            human = rng.random() < 0.35
            if human:
                label = f"{rng.choice(vocab.given)} {vocab.surnames[_name_index(rng, len(vocab.surnames))]}"
                types = [HUMAN]
            else:
                label = vocab.names[_name_index(rng, len(vocab.names))] + rng.choice(SUFFIXES)
                types = [self.qid(rng.randrange(self.n_classes))]
        n_aliases = 1 + min(9, int(rng.expovariate(0.5)))
        # dict, not set: a set's order changes with PYTHONHASHSEED, and the same seed must give
        # the same dump
        aliases = dict.fromkeys(vocab.names[_name_index(rng, len(vocab.names))] for _ in range(n_aliases))
        aliases.pop(label, None)
        # rank -> popularity: sitelinks ~ 300 / rank^0.55, claims ~ 6 + 60 / rank^0.3
        n_sitelinks = min(len(WIKIS), int(300 / (i + 1) ** 0.55))
        n_claims = 6 + int(60 / (i + 1) ** 0.3)
        claims: dict[str, list] = {"P31": [_item("P31", t) for t in types]} if types else {}
        for _ in range(n_claims):
            roll = rng.random()
            if roll < 0.45:
                pid = rng.choice(ITEM_PROPERTIES)
                claims.setdefault(pid, []).append(_item(pid, self._target()))
            elif roll < 0.6:
                pid = rng.choice(HELD_PROPERTIES)
                st = _item(pid, self._target())
                start = rng.randrange(1950, 2024)
                quals = {"P580": [_time_snak("P580", start, rng.randrange(1, 13), rng.randrange(1, 29))]}
                if rng.random() < 0.6:
                    quals["P582"] = [_time_snak("P582", min(2025, start + rng.randrange(1, 12)),
                                                rng.randrange(1, 13), rng.randrange(1, 29))]
                st["qualifiers"] = quals
                claims.setdefault(pid, []).append(st)
            elif roll < 0.72:
                pid = rng.choice(TIME_PROPERTIES)
                claims.setdefault(pid, []).append(
                    {"mainsnak": _time_snak(pid, rng.randrange(1800, 2024), rng.randrange(1, 13),
                                            rng.randrange(1, 29)), "type": "statement", "rank": "normal"})
            elif roll < 0.84:
                pid = rng.choice(QUANTITY_PROPERTIES)
                claims.setdefault(pid, []).append(
                    {"mainsnak": {"snaktype": "value", "property": pid, "datatype": "quantity",
                                  "datavalue": {"value": {"amount": f"+{rng.randrange(1, 10**7)}", "unit": "1"},
                                                "type": "quantity"}},
                     "type": "statement", "rank": "normal",
                     "qualifiers": {"P585": [_time_snak("P585", rng.randrange(2000, 2024), 1, 1)]}})
            elif roll < 0.92:
                claims.setdefault("P1813", []).append(_string("P1813", label.split()[0]))
            else:
                claims.setdefault("P214", []).append(_string("P214", str(rng.randrange(10**8)), "external-id"))
        title = label[:1].upper() + label[1:]
        return {"type": "item", "id": qid,
                "labels": {"en": {"language": "en", "value": label}},
                "descriptions": {"en": {"language": "en", "value": f"synthetic {'person' if human else 'entity'} {i}"}},
                "aliases": {"en": [{"language": "en", "value": a} for a in aliases]},
                "claims": claims,
                "sitelinks": {site: {"site": site, "title": title, "badges": []} for site in WIKIS[:n_sitelinks]}}


def write_dump(path: str, n: int, seed: int = 1, qid_base: int = QID_BASE, batch: int = 2000) -> float:
    """Write ``n`` entities to ``path`` (.gz: gzip level 1); returns seconds taken."""
    t0 = time.perf_counter()
    factory = EntityFactory(n, seed, qid_base)
    opener = (lambda: gzip.open(path, "wb", compresslevel=1)) if path.endswith(".gz") else (lambda: open(path, "wb"))
    dumps = orjson.dumps
    with opener() as out:
        out.write(b"[\n")
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            lines = [dumps(factory.entity(i)) for i in range(lo, hi)]
            # official layout: every entity line ends in "," except the last one
            out.write(b",\n".join(lines) + (b"\n" if hi == n else b",\n"))
        out.write(b"]\n")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_dump", description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, required=True)
    parser.add_argument("--out", required=True, help="output file (.json or .json.gz)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--qid-base", type=int, default=QID_BASE,
                        help=f"first QID number (default {QID_BASE}: clear of real QIDs)")
    args = parser.parse_args(argv)
    if args.entities < 1:
        parser.error("--entities must be at least 1")
    seconds = write_dump(args.out, args.entities, args.seed, args.qid_base)
    sys.stderr.write(f"wrote {args.entities} entities to {args.out} in {seconds:.1f} s "
                     f"({args.entities / seconds:,.0f} entities/s)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
