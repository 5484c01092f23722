"""The linking contract: what goes in (``LinkOptions``) and what comes out (``LinkResult``).

The HTTP API, the CLI and the tests all use these shapes; ``to_dict()`` is the JSON form.
Offsets: ``start``/``end`` are Unicode code points (Python ``str`` indices, end exclusive);
``start_utf16``/``end_utf16`` are UTF-16 code units (JavaScript ``String`` indices).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .classes import parse_types
from .errors import InvalidInput

NIL = None  # a mention the linker could not (confidently) link has qid NIL


@dataclass(frozen=True)
class LinkOptions:
    threshold: float = 0.35      # ranker share below which a mention is NIL (but see linker.links)
    top_k: int = 0               # >0: include up to k ranked candidates per mention
    fact_cards: bool = True      # include a fact card per linked entity
    relations: bool = True       # include claims connecting two linked entities
    include_nil: bool = True     # report unlinked capitalised spans (what the KB lacks)
    types: tuple[str, ...] = ()  # keep only entities of these classes (linkers.classes)

    @classmethod
    def from_dict(cls, raw: Any) -> "LinkOptions":
        """Validate user-supplied options (JSON object) -> LinkOptions, or raise InvalidInput."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise InvalidInput("'options' must be a JSON object", field="options")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise InvalidInput(f"unknown option(s): {', '.join(unknown)}", field="options")
        values = {}
        for name, value in raw.items():
            default = getattr(cls, name)
            if name == "types":
                value = parse_types(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise InvalidInput(f"option '{name}' must be true or false", field=name)
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
                    raise InvalidInput(f"option '{name}' must be an integer in [0, 50]", field=name)
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise InvalidInput(f"option '{name}' must be a number in [0, 1]", field=name)
                value = float(value)
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Candidate:
    qid: str
    label: str
    score: float                 # the ranker's confidence for this candidate, in [0, 1]
    description: str = ""

    def to_dict(self) -> dict:
        return {"qid": self.qid, "label": self.label, "score": round(self.score, 4),
                "description": self.description}


@dataclass
class Mention:
    start: int
    end: int
    start_utf16: int
    end_utf16: int
    text: str
    qid: str | None
    label: str | None
    confidence: float
    candidates: list[Candidate] = field(default_factory=list)
    segment: int | None = None   # segment input: the segment's index; offsets are into it

    def to_dict(self, with_candidates: bool = False) -> dict:
        out = {"start": self.start, "end": self.end,
               "start_utf16": self.start_utf16, "end_utf16": self.end_utf16,
               "text": self.text, "qid": self.qid, "label": self.label,
               "confidence": round(self.confidence, 4)}
        if self.segment is not None:
            out["segment"] = self.segment
        if with_candidates:
            out["candidates"] = [c.to_dict() for c in self.candidates]
        return out


@dataclass
class Relation:
    subject: str                 # QID
    property: str                # PID
    property_label: str
    object: str                  # QID
    current: bool = True         # False when the claim's qualifiers exclude published_at

    def to_dict(self) -> dict:
        return {"subject": self.subject, "property": self.property,
                "property_label": self.property_label, "object": self.object,
                "current": self.current}


@dataclass
class LinkResult:
    mentions: list[Mention]
    entities: dict[str, dict]    # QID -> fact card (FactCard JSON)
    relations: list[Relation]
    kb_version: str
    linker_version: str
    published_at: str | None = None
    options: LinkOptions = field(default_factory=LinkOptions)
    truncated: bool = False      # the work budget cut the text short (``link(max_mentions=)``)

    def to_dict(self) -> dict:
        extra = {"truncated": True} if self.truncated else {}
        return {
            "mentions": [m.to_dict(self.options.top_k > 0) for m in self.mentions],
            "entities": self.entities,
            "relations": [r.to_dict() for r in self.relations],
            "kb_version": self.kb_version,
            "linker_version": self.linker_version,
            "published_at": self.published_at,
            **extra,
        }
