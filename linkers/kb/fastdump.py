"""The build's fast path: one dump line straight to its compact record, decoded with msgspec.

``compact_entity`` (``dump.py``) reduces a parsed JSON object; parsing the whole object first
costs as much as the reduction, because a dump line carries much the KB never keeps:
references, every other language's labels, descriptions and aliases, qualifiers other than
start/end/point in time, the sitelinks' titles and badges. Here the line is decoded against
``msgspec`` structs that name only the fields the record needs: the rest is skipped inside the
C decoder, never becoming Python objects, and what is kept comes back as slotted structs, not
dicts. The reduction below mirrors ``compact_claims``/``compact_entity`` field for field.

Equivalence is the contract: for every line, ``compact_line(line)`` equals ``reference_line``,
i.e. ``compact_entity(orjson.loads(line))`` with the targets as numbers (a test checks it on the
real dumps in ``../shared``, on the starter dump and on odd shapes, for one and for several
languages). A line whose shape the structs do not describe (an unknown datavalue type,
``[]`` where a map should be, a value of the wrong JSON type) raises ``msgspec.ValidationError``
and is reduced by the reference path instead, so odd lines give the same record or the same
error as before, only slower.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional, Union

import msgspec

from .dump import (MAX_VALUES_PER_PROPERTY, NOT_RELATED, SKIPPED_PROPERTIES, compact_entity, is_qid, iso_date,
                   parse_entity_line, recency)


class _Odd(Exception):
    """A shape the fast path leaves to the reference path (which may report it as malformed)."""


class _Text(msgspec.Struct):
    value: Optional[str] = None


class _EntityId(msgspec.Struct, rename={"entity_type": "entity-type", "numeric_id": "numeric-id"}):
    id: Optional[str] = None
    entity_type: Optional[str] = None
    numeric_id: Optional[int] = None


class _Time(msgspec.Struct):
    time: Optional[str] = None
    precision: int = 11


class _Quantity(msgspec.Struct):
    amount: Union[str, float, None] = None
    unit: Optional[str] = "1"


class _Globe(msgspec.Struct):
    latitude: Any = None
    longitude: Any = None


class _Mono(msgspec.Struct):
    text: str = ""


# The datavalue, by its "type" member: an unknown type fails validation (reference path).
class _ItemValue(msgspec.Struct, tag_field="type", tag="wikibase-entityid"):
    value: _EntityId


class _TimeValue(msgspec.Struct, tag_field="type", tag="time"):
    value: _Time


class _QuantityValue(msgspec.Struct, tag_field="type", tag="quantity"):
    value: _Quantity


class _GlobeValue(msgspec.Struct, tag_field="type", tag="globecoordinate"):
    value: _Globe


class _StringValue(msgspec.Struct, tag_field="type", tag="string"):
    value: Any


class _MonoValue(msgspec.Struct, tag_field="type", tag="monolingualtext"):
    value: _Mono


_DataValue = Union[_ItemValue, _TimeValue, _QuantityValue, _GlobeValue, _StringValue, _MonoValue]


class _Snak(msgspec.Struct):
    snaktype: Optional[str] = None
    datatype: Optional[str] = None
    datavalue: Optional[_DataValue] = None


class _Qualifiers(msgspec.Struct):
    P580: list[_Snak] = []
    P582: list[_Snak] = []
    P585: list[_Snak] = []


class _Statement(msgspec.Struct):
    mainsnak: Optional[_Snak] = None
    rank: Optional[str] = None
    qualifiers: Optional[_Qualifiers] = None


class _Sitelink(msgspec.Struct):
    title: str = ""


_sitelink_decoder = msgspec.json.Decoder(_Sitelink)


@lru_cache(maxsize=8)
def _decoder(languages: tuple[str, ...]) -> msgspec.json.Decoder:
    """A decoder of entity lines keeping the text of ``languages`` only (fields renamed to codes)."""
    names = {f"l{i}": lang for i, lang in enumerate(languages)}
    texts = msgspec.defstruct("_Texts", [(f, Optional[_Text], None) for f in names], rename=names)
    alias_lists = msgspec.defstruct("_Aliases", [(f, Optional[list[_Text]], None) for f in names],
                                    rename=names)
    entity = msgspec.defstruct("_Entity", [
        ("id", str, ""), ("type", str, "item"),
        ("labels", Optional[texts], None), ("descriptions", Optional[texts], None),
        ("aliases", Optional[alias_lists], None),
        ("claims", Optional[dict[str, list[_Statement]]], None),
        ("sitelinks", Optional[dict[str, msgspec.Raw]], None),
    ])
    return msgspec.json.Decoder(entity)


def _first_time(snaks: list[_Snak]) -> str | None:
    for snak in snaks:
        if snak.snaktype == "value" and type(snak.datavalue) is _TimeValue:
            t = snak.datavalue.value
            if t.time:
                return iso_date(t.time, t.precision)
    return None


def _claims(claims: dict[str, list[_Statement]]) -> tuple[dict, list[int], list[int]]:
    """``dump.compact_claims`` of decoded statements, with the targets as QID numbers, and the
    numbers of the kept item values of relating properties (the out-links: ``NOT_RELATED``).

    One loop, no helper calls in the common cases: it runs for every claim of the dump.
    """
    kept: dict[str, list[dict]] = {}
    targets: list[int] = []
    related: list[int] = []
    for pid, statements in claims.items():
        values = []
        skipped = pid in SKIPPED_PROPERTIES
        relating = pid not in NOT_RELATED
        for st in statements:
            snak = st.mainsnak
            if snak is None or snak.snaktype != "value":
                continue
            rank = st.rank
            if rank == "deprecated":
                continue
            dv = snak.datavalue
            cls = type(dv)
            if cls is _ItemValue:
                v = dv.value
                qid = v.id
                if not qid and v.entity_type == "item":
                    if v.numeric_id is None:
                        raise _Odd          # the reference path reports the missing number
                    qid = f"Q{v.numeric_id}"
                if not qid or qid[0] != "Q":
                    continue                # properties, lexemes
                number = int(qid[1:])
                targets.append(number)
                if skipped:
                    continue
                if relating:
                    related.append(number)
                val = {"k": "i", "v": qid}
            elif cls is _TimeValue:
                t = dv.value
                if not t.time:
                    continue
                val = {"k": "t", "v": iso_date(t.time, t.precision)}
            elif cls is _QuantityValue:
                v = dv.value
                if v.amount is None:
                    continue
                try:
                    amount = float(v.amount)
                except ValueError:
                    continue
                val = {"k": "q", "v": int(amount) if amount.is_integer() else amount}
                if v.unit and v.unit != "1":
                    val["u"] = v.unit.rsplit("/", 1)[-1]
            elif cls is _StringValue:
                if snak.datatype == "external-id":
                    continue                # identifiers in other databases: not facts
                val = {"k": "s", "v": dv.value}
            elif cls is _MonoValue:
                if snak.datatype == "external-id":
                    continue
                val = {"k": "s", "v": dv.value.text}
            elif cls is _GlobeValue:
                val = {"k": "c", "v": [dv.value.latitude, dv.value.longitude]}
            else:
                continue                    # no datavalue
            quals = st.qualifiers
            if quals is not None:
                if quals.P580 and (t := _first_time(quals.P580)):
                    val["s"] = t
                if quals.P582 and (t := _first_time(quals.P582)):
                    val["e"] = t
                if quals.P585 and (t := _first_time(quals.P585)):
                    val["p"] = t
            if rank == "preferred":
                val["r"] = 1
            values.append(val)
        if values:
            if len(values) > MAX_VALUES_PER_PROPERTY:
                values.sort(key=recency, reverse=True)
                dropped = values[MAX_VALUES_PER_PROPERTY:]
                del values[MAX_VALUES_PER_PROPERTY:]
                if relating:
                    for val in dropped:
                        if val["k"] == "i":
                            related.remove(int(val["v"][1:]))
            kept[pid] = values
    return kept, targets, related


def _text(block, field: str) -> str:
    text = getattr(block, field)
    return (text.value or "") if text is not None else ""


def _first_text(block, fields: list[str]) -> str:
    """``dump._lang_value``: the value of the first language present."""
    if block is not None:
        for f in fields:
            text = getattr(block, f)
            if text is not None:
                if text.value is None:
                    raise _Odd          # {} is skipped there, {"language": ..} is "": leave it
                return text.value
    return ""


def reference_line(line: bytes, languages: tuple[str, ...] = ("en",)) -> tuple[dict, list[int], list[int]] | None:
    """What ``compact_line`` returns, computed the slow, obvious way (``dump.compact_entity``)."""
    compacted = compact_entity(parse_entity_line(line), languages)
    if compacted is None:
        return None
    record, targets = compacted
    related = [int(v["v"][1:]) for pid, vals in record["c"].items() if pid not in NOT_RELATED
               for v in vals if v["k"] == "i"]
    return record, [int(t[1:]) for t in targets], related


def compact_line(line: bytes, languages: tuple[str, ...] = ("en",)) -> tuple[dict, list[int], list[int]] | None:
    """(compact record, every item target's QID number, out-link QID numbers) of one dump line,
    or None for non-items: ``reference_line`` without building the whole object.

    Raises what the reference path raises for a malformed line (ValueError and friends): any
    line the structs cannot take is handed to it.
    """
    try:
        return _compact(_decoder(languages).decode(line), languages)
    except (msgspec.MsgspecError, _Odd):
        return reference_line(line, languages)


def _compact(raw, languages: tuple[str, ...]) -> tuple[dict, list[int], list[int]] | None:
    qid = raw.id
    if raw.type != "item" or not is_qid(qid):
        return None
    fields = [f"l{i}" for i in range(len(languages))]
    labels, aliases_by_lang = raw.labels, raw.aliases
    label = _first_text(labels, fields)
    aliases: list[str] = []
    seen = {label}
    for i, f in enumerate(fields):
        if i and labels is not None:
            other = _text(labels, f)
            if other and other not in seen:
                seen.add(other)
                aliases.append(other)
        if aliases_by_lang is not None:
            for a in getattr(aliases_by_lang, f) or ():
                v = a.value
                if v and v not in seen:
                    seen.add(v)
                    aliases.append(v)
    description = _first_text(raw.descriptions, fields)
    sitelinks = raw.sitelinks or {}
    enwiki_raw = sitelinks.get("enwiki")
    enwiki = _sitelink_decoder.decode(enwiki_raw).title if enwiki_raw is not None else ""
    claims, targets, related = _claims(raw.claims) if raw.claims else ({}, [], [])
    types = [v["v"] for v in claims.get("P31", ()) if v["k"] == "i"]
    record = {"id": qid, "l": label, "d": description, "a": aliases, "w": enwiki,
              "sl": len(sitelinks), "t": types, "c": claims}
    return record, targets, related


