"""The KB overlay (``linkers.kb.overlay``): base + changes read as one KB by linking, lookups and
fact cards; persisted next to the KB for the CLI, with a snapshot that opens fast.

Entities added are newsroom entities written here (local ids, which no QID can be) or records of
the starter KB's real entities, edited."""
from __future__ import annotations

import pytest

from linkers import LinkOptions, errors, link, open_kb
from linkers.kb.overlay import (OverlayKB, append_changes, changes_path, check_local_prefix,
                                is_entity_id, open_overlay, read_changes, record_change,
                                rule_change, rule_removal, save_snapshot, tombstone)

MACRON, PUTIN, FRANCE, PARIS = "Q3052772", "Q7747", "Q142", "Q90"


def entity(entity_id: str, label: str, description: str = "", aliases=(), claims=None,
           sitelinks: int = 0) -> dict:
    """An entity in Wikidata's dump layout."""
    return {"id": entity_id, "type": "item",
            "labels": {"en": {"language": "en", "value": label}},
            "descriptions": {"en": {"language": "en", "value": description}} if description else {},
            "aliases": {"en": [{"language": "en", "value": a} for a in aliases]},
            "claims": claims or {},
            "sitelinks": {f"site{i}wiki": {"site": f"site{i}wiki", "title": label} for i in range(sitelinks)}}


def item_claim(pid: str, qid: str) -> dict:
    return {"mainsnak": {"snaktype": "value", "property": pid, "datatype": "wikibase-item",
                         "datavalue": {"type": "wikibase-entityid",
                                       "value": {"entity-type": "item", "id": qid}}},
            "type": "statement", "rank": "normal"}


def linked(result) -> dict[str, str | None]:
    return {m.text: m.qid for m in result.mentions}


@pytest.fixture
def base(tmp_path):
    """A private copy of the starter KB (its directory takes the test's overlay)."""
    kb = open_kb(cache_dir=tmp_path)
    yield kb
    kb.close()


ACME = entity("local:acme-wire", "Acme Wire Service", "news agency in Paris", aliases=["AWS Wire"],
              claims={"P159": [item_claim("P159", PARIS)], "P17": [item_claim("P17", FRANCE)]})
SENTENCE = "Acme Wire Service reported that Macron met Putin in Paris."


def test_a_new_entity_is_linked_by_its_names_and_has_a_card(base):
    assert linked(link(SENTENCE, base, options=None)).get("Acme Wire Service") is None
    kb = OverlayKB(base, [record_change(ACME)], 1)
    result = link(SENTENCE, kb)
    assert linked(result)["Acme Wire Service"] == "local:acme-wire"
    assert linked(result)["Macron"] == MACRON                    # the base is still there
    assert "local:acme-wire" in kb and len(kb) == len(base) + 1
    card = kb.fact_card("local:acme-wire")
    assert card["label"] == "Acme Wire Service"
    assert any(v["qid"] == PARIS and v["value"] == "Paris" for f in card["facts"] for v in f["values"])
    assert card["wikidata_url"] is None                      # a newsroom entity: no Wikidata page
    assert [c.qid for c in kb.lookup("AWS Wire")] == ["local:acme-wire"]


def test_an_edited_record_replaces_the_base_one_names_included(base):
    record = dict(base.entity(MACRON), l="Emmanuel Jean Macron", a=["Manu"])
    kb = OverlayKB(base, [{"id": MACRON, "record": record}], 1)
    result = link("Manu met Putin in Paris.", kb)
    assert linked(result)["Manu"] == MACRON
    assert result.entities[MACRON]["label"] == "Emmanuel Jean Macron"
    # a name it no longer has stops finding it ("Macron" was a base alias and the surname of
    # the old label; the new label still ends in Macron, so the surname stays)
    assert "President Macron" not in {c.label for c in kb.lookup("President Macron")}
    assert kb.lookup("President Macron") == []
    assert kb.label(MACRON) == "Emmanuel Jean Macron"


def test_other_cards_show_the_new_label_of_an_entity_they_mention(base):
    kb = OverlayKB(base)
    before = kb.fact_card(PARIS)
    assert any(v["value"] == "France" for f in before["facts"] for v in f["values"])
    kb.apply([{"id": FRANCE, "record": dict(base.entity(FRANCE), l="French Republic")}], 1)
    after = kb.fact_card(PARIS)
    labels = {v["value"] for f in after["facts"] for v in f["values"]}
    assert "French Republic" in labels and "France" not in labels


def test_a_deleted_or_redirected_item_is_never_linked_again(base):
    kb = OverlayKB(base, [tombstone(PUTIN), tombstone(MACRON, redirect="Q1")], 2)
    result = link("Macron met Putin in Paris.", kb, options=None)
    assert PUTIN not in {m.qid for m in result.mentions}
    assert MACRON not in {m.qid for m in result.mentions}
    assert PUTIN not in kb and kb.entity(PUTIN) is None and kb.fact_card(PUTIN) is None
    assert kb.redirect_of(MACRON) == "Q1"
    assert len(kb) == len(base) - 2
    assert PUTIN not in set(kb.iter_qids())
    # and it comes back when Wikidata undeletes it
    kb.apply([{"id": PUTIN, "record": base.entity(PUTIN)}], 3)
    assert linked(link("Macron met Putin in Paris.", kb))["Putin"] == PUTIN


def test_kb_version_is_the_base_version_plus_the_overlay_generation(base):
    kb = OverlayKB(base)
    assert kb.version == base.version                 # nothing applied: results stay shared
    kb.apply([record_change(ACME)], 1)
    assert kb.version == f"{base.version}+o1"
    assert link(SENTENCE, kb).kb_version == f"{base.version}+o1"
    kb.rebase()
    kb.apply([tombstone("local:acme-wire")], 1)
    assert kb.version == f"{base.version}+o1+o1"


def test_per_process_memos_do_not_outlive_a_change(base):
    """The ranker memoises an entity's description words per (kb, entity): a change must not
    leave the old words in use."""
    from linkers.ranker import _entity_words
    kb = OverlayKB(base)
    eid = kb.internal_id(MACRON)
    assert "president" in _entity_words(kb, eid)
    kb.apply([{"id": MACRON, "record": dict(base.entity(MACRON), d="French banker")}], 1)
    assert "president" not in _entity_words(kb, eid) and "banker" in _entity_words(kb, eid)


def test_the_trie_questions_and_popularity_answered_before_a_change_are_not_kept(base):
    """An overlay memoises ``has_key``, ``has_prefix`` and ``popularity`` per state: linking
    asks them ~1,300 times an article. An answer given before a change is not given after it,
    for the same object, whichever way the state changes (a new entity, a rule, a snapshot
    adopted)."""
    from linkers.text import alias_key
    kb = OverlayKB(base)
    key, prefix = alias_key("Acme Wire Service"), alias_key("Acme Wire")
    assert not kb.has_key(key) and not kb.has_prefix(prefix)    # asked, and memoised
    kb.apply([record_change(ACME)], 1)
    assert kb.has_key(key) and kb.has_prefix(prefix) and kb.has_key(alias_key("AWS Wire"))
    acme = kb.internal_id("local:acme-wire")
    assert kb.popularity(acme) == 0.0                          # no sitelinks
    kb.apply([record_change(dict(ACME, sitelinks={f"s{i}wiki": {"site": f"s{i}wiki", "title": "Acme"}
                                                  for i in range(40)}))], 2)
    assert kb.popularity(acme) > 0.0
    banned = rule_change("ban_alias", "AWS Wire")
    kb.apply([banned], 3)
    assert not kb.has_key(alias_key("AWS Wire")) and kb.has_key(key)
    fresh = OverlayKB(base)
    fresh.adopt(kb)          # another state taken into the same object
    assert fresh.has_key(key) and not fresh.has_key(alias_key("AWS Wire"))
    assert linked(link(SENTENCE, kb))["Acme Wire Service"] == "local:acme-wire"


def test_a_snapshot_opens_as_the_same_kb(base):
    kb = OverlayKB(base, [record_change(ACME), tombstone(PUTIN),
                          {"id": MACRON, "record": dict(base.entity(MACRON), a=["Manu"])}], 3)
    again = OverlayKB.from_snapshot(base, kb.snapshot())
    assert again.version == kb.version
    for text in (SENTENCE, "Manu met Putin.", "AWS Wire said so."):
        assert link(text, again).to_dict() == link(text, kb).to_dict()
    again.apply([tombstone("local:acme-wire")], 4)
    assert "local:acme-wire" not in again


def test_a_snapshot_of_another_kb_is_refused(base, news_kb):
    blob = OverlayKB(news_kb, [record_change(ACME)], 1).snapshot()
    with pytest.raises(errors.KBFormatError):
        OverlayKB.from_snapshot(base, blob)


def test_the_kb_directory_keeps_the_overlay_for_every_cli_command(base):
    directory = base.path
    assert append_changes(changes_path(directory), [record_change(ACME)]) == 1
    kb = open_kb(directory)
    assert kb.version == f"{base.version}+o1"
    assert linked(link(SENTENCE, kb))["Acme Wire Service"] == "local:acme-wire"
    save_snapshot(kb, directory)
    assert append_changes(changes_path(directory), [tombstone("local:acme-wire")]) == 2
    reopened = open_kb(directory)                 # snapshot at 1 + the change after it
    assert reopened.version == f"{base.version}+o2" and "local:acme-wire" not in reopened
    assert open_kb(directory, overlay=False).version == base.version


def test_a_torn_last_line_is_ignored_and_repaired_on_the_next_append(base):
    path = changes_path(base.path)
    append_changes(path, [record_change(ACME)])
    with open(path, "ab") as fh:
        fh.write(b'{"id": "local:half", "rec')           # a crash mid-write
    assert [c["id"] for c in read_changes(path)] == ["local:acme-wire"]
    assert append_changes(path, [tombstone("local:acme-wire")]) == 2
    assert [c["id"] for c in read_changes(path)] == ["local:acme-wire", "local:acme-wire"]
    assert "local:acme-wire" not in open_overlay(base, base.path)


def test_a_corrupt_line_inside_the_file_is_a_kb_error(base):
    path = changes_path(base.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not json\n" + b'{"id": "local:x", "record": null}\n')
    with pytest.raises(errors.KBFormatError, match="changes.jsonl:1"):
        open_kb(base.path)


@pytest.mark.parametrize("prefix", ["Q", "", "local", "1x:", "Q:"[:1], "local-"])
def test_a_local_prefix_that_could_look_like_a_wikidata_id_is_refused(prefix):
    with pytest.raises(errors.InvalidInput, match="prefix"):
        check_local_prefix(prefix)


def test_custom_ids_are_local_ids_never_qids():
    assert is_entity_id("local:acme-wire") and is_entity_id("Q42")
    assert not is_entity_id("acme") and not is_entity_id("local:") and not is_entity_id("local:a b")
    with pytest.raises(errors.InvalidInput, match="neither a Wikidata QID"):
        record_change(entity("acme-wire", "Acme"))
    with pytest.raises(errors.InvalidInput, match="local id"):
        record_change(entity("local:acme wire", "Acme"))
    with pytest.raises(errors.InvalidInput, match="no label"):
        record_change(entity("local:acme", ""))
    assert record_change(entity("newsroom:acme", "Acme"), local_prefix="newsroom:")["id"] == "newsroom:acme"


def test_an_unchanged_record_leaves_every_candidate_list_as_the_build_made_it(base):
    """Priors of the keys the overlay touches are recomputed by the build's own rule."""
    qids = list(base.iter_qids())[:120]
    kb = OverlayKB(base, [{"id": qid, "record": base.entity(qid)} for qid in qids], len(qids))
    assert kb._lists, "the overlay touched no key"
    for key in kb._lists:
        mine, built = kb.candidates(key), base.candidates(key)
        assert [(e, f) for e, _p, f in mine] == [(e, f) for e, _p, f in built], key
        assert [p for _e, p, _f in mine] == pytest.approx([p for _e, p, _f in built], rel=1e-4), key


# --- newsroom rules --------------------------------------------------------------------------
CRIMEA, REPUBLIC_OF_CRIMEA = "Q7835", "Q15966495"


def test_a_pinned_alias_wins(base):
    assert linked(link("Putin spoke about Crimea.", base))["Crimea"] == CRIMEA
    kb = OverlayKB(base, [rule_change("pin", "Crimea", REPUBLIC_OF_CRIMEA, by="key:ab12", at=1.0)], 1)
    result = link("Putin spoke about Crimea.", kb, options=LinkOptions(top_k=5))
    crimea = next(m for m in result.mentions if m.text == "Crimea")
    assert crimea.qid == REPUBLIC_OF_CRIMEA and [c.qid for c in crimea.candidates] == [REPUBLIC_OF_CRIMEA]
    (rule,) = kb.rules.values()
    assert rule == {"kind": "pin", "alias": "Crimea", "qid": REPUBLIC_OF_CRIMEA, "by": "key:ab12", "at": 1.0}


def test_a_banned_qid_never_appears(base):
    kb = OverlayKB(base, [rule_change("ban_qid", qid=PUTIN)], 1)
    for text in ("Macron met Putin in Paris.", "Vladimir Putin spoke.", "Putin, Putin and Putin."):
        result = link(text, kb, options=LinkOptions(top_k=10))
        assert PUTIN not in {m.qid for m in result.mentions}
        assert PUTIN not in {c.qid for m in result.mentions for c in m.candidates}
        assert PUTIN not in result.entities
    assert kb.lookup("Putin") == []
    assert kb.fact_card(PUTIN)["label"] == "Vladimir Putin"        # a card is not a link


def test_a_banned_alias_is_never_linked_but_other_names_are(base):
    kb = OverlayKB(base, [rule_change("ban_alias", "Macron")], 1)
    mentions = linked(link("Emmanuel Macron met Putin. Macron said no.", kb))
    assert mentions["Emmanuel Macron"] == MACRON and mentions.get("Macron") is None


def test_a_house_alias_names_an_entity_and_removing_a_rule_undoes_it(base):
    rule = rule_change("house_alias", "Vova", PUTIN)
    kb = OverlayKB(base, [rule], 1)
    assert linked(link("Vova met Macron in Paris.", kb))["Vova"] == PUTIN
    kb.apply([rule_removal(rule["id"])], 2)
    assert linked(link("Vova met Macron in Paris.", kb)).get("Vova") is None
    assert kb.rules == {}


def test_rules_survive_a_snapshot_and_follow_their_entity(base):
    kb = OverlayKB(base, [rule_change("house_alias", "Vova", PUTIN), rule_change("ban_alias", "Macron")], 2)
    again = OverlayKB.from_snapshot(base, kb.snapshot())
    assert again.rules == kb.rules
    assert linked(link("Vova met Macron.", again)) == linked(link("Vova met Macron.", kb))
    again.apply([tombstone(PUTIN)], 3)                  # the entity is gone: so is its alias
    assert linked(link("Vova met Macron.", again)).get("Vova") is None


NEWSDESK, SPORTSDESK = "key:0123456789ab", "key:ba9876543210"


def test_a_scoped_pin_holds_for_its_scope_only(base):
    kb = OverlayKB(base, [rule_change("pin", "Crimea", REPUBLIC_OF_CRIMEA, scope=NEWSDESK)], 1)
    text = "Putin spoke about Crimea."
    assert linked(link(text, kb))["Crimea"] == CRIMEA                       # unscoped: untouched
    assert linked(link(text, kb.scoped(SPORTSDESK)))["Crimea"] == CRIMEA    # another scope too
    assert kb.scoped(SPORTSDESK) is kb and kb.scoped(None) is kb
    assert linked(link(text, kb.scoped(NEWSDESK)))["Crimea"] == REPUBLIC_OF_CRIMEA
    assert kb.rules == {} and set(kb.scoped_rules(NEWSDESK)) == {next(iter(kb._scoped[NEWSDESK]))}
    assert kb.scoped(NEWSDESK).version == kb.version


def test_global_rules_hold_inside_a_scope_and_a_scoped_pin_overrides_a_global_one(base):
    kb = OverlayKB(base, [rule_change("ban_qid", qid=PUTIN),
                          rule_change("pin", "Crimea", CRIMEA),
                          rule_change("pin", "Crimea", REPUBLIC_OF_CRIMEA, scope=NEWSDESK),
                          rule_change("house_alias", "Vova", MACRON, scope=NEWSDESK)], 4)
    view = kb.scoped(NEWSDESK)
    mentions = linked(link("Vova met Putin about Crimea.", view))
    assert mentions["Crimea"] == REPUBLIC_OF_CRIMEA and mentions["Vova"] == MACRON
    assert PUTIN not in {m.qid for m in link("Vladimir Putin spoke.", view).mentions}
    assert linked(link("Vova met Putin about Crimea.", kb)).get("Vova") is None


def test_scoped_rules_survive_a_snapshot_and_can_be_removed(base):
    rule = rule_change("house_alias", "Vova", PUTIN, scope=NEWSDESK)
    kb = OverlayKB(base, [rule], 1)
    again = OverlayKB.from_snapshot(base, kb.snapshot())
    assert again.rules == {} and again.scoped_rules(NEWSDESK) == kb.scoped_rules(NEWSDESK)
    assert linked(link("Vova met Macron.", again.scoped(NEWSDESK)))["Vova"] == PUTIN
    assert again.rule(rule["id"])["scope"] == NEWSDESK
    again.apply([rule_removal(rule["id"])], 2)
    assert again.scoped(NEWSDESK) is again and again.rule(rule["id"]) is None


def test_a_scope_must_be_a_key_fingerprint():
    with pytest.raises(errors.InvalidInput, match="scope"):
        rule_change("ban_alias", "Macron", scope="everyone")


@pytest.mark.parametrize("args, message", [
    (("pin", "Crimea", None), "needs a 'qid'"), (("pin", "", CRIMEA), "needs an 'alias'"),
    (("ban_qid", None, "crimea"), "needs a 'qid'"), (("veto", "x", CRIMEA), "unknown rule kind"),
])
def test_malformed_rules_are_refused(args, message):
    with pytest.raises(errors.InvalidInput, match=message):
        rule_change(*args)


def test_superclasses_follow_an_edited_class(base):
    """The type filter's P279 closure is memoised per KB generation, like cards."""
    kb = OverlayKB(base, [record_change(entity("local:wire-service", "wire service",
                                               claims={"P279": [item_claim("P279", FRANCE)]}))], 1)
    assert FRANCE in kb.superclasses("local:wire-service")
    kb.apply([record_change(entity("local:wire-service", "wire service"))], 2)
    assert FRANCE not in kb.superclasses("local:wire-service")
