"""``factlink kb add``: entities from a local stand-in of the Wikidata API (serving real entity
JSON from ../shared/data/wikidata) or a newsroom file, into the KB directory's overlay."""
from __future__ import annotations

import json

import orjson
import pytest
# the same stand-in of the Wikidata API, serving real entities (fixtures: entities -> running_server
# -> wikidata, reset per test)
from test_wikidata_refresh import entities, read_entities, running_server, wikidata  # noqa: F401
from test_wikidata_refresh import pytestmark as needs_samples

from linkers import link, open_kb
from linkers.kb.overlay import changes_path
from service.cli import main

pytestmark = needs_samples

QUINE = "Q214969"            # in the API sample, not in the starter KB
TEXT = "The philosopher Willard Van Orman Quine met Macron in Paris."
NEVER_CREATED = "Q999999999991"


@pytest.fixture
def stand_in(wikidata, monkeypatch):
    monkeypatch.setenv("FACTLINK_WIKIDATA_API", wikidata.url)
    monkeypatch.delenv("FACTLINK_LOCAL_ID_PREFIX", raising=False)
    return wikidata


@pytest.fixture
def kb_dir(tmp_path):
    """A private starter KB directory (the test writes its overlay)."""
    kb = open_kb(cache_dir=tmp_path)
    kb.close()
    return str(kb.path)


def qid_of(kb_path: str, surface: str) -> str | None:
    kb = open_kb(kb_path)
    try:
        return {m.text: m.qid for m in link(TEXT, kb).mentions}.get(surface)
    finally:
        kb.close()


def added(capsys) -> dict:
    return orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_nil_mention_is_linked_after_kb_add(stand_in, kb_dir, capsys):
    assert qid_of(kb_dir, "Willard Van Orman Quine") is None
    assert main(["kb", "add", QUINE, "--kb", kb_dir]) == 0
    out = added(capsys)
    assert out["added"] == [QUINE] and out["kb_version"].endswith("+o1")
    assert qid_of(kb_dir, "Willard Van Orman Quine") == QUINE
    params, headers = stand_in.seen[-1]
    assert params["action"] == "wbgetentities" and params["ids"] == QUINE and "maxlag" in params
    assert headers["User-Agent"].startswith("factlink/")


def test_an_unknown_qid_adds_nothing_and_says_which(stand_in, kb_dir, capsys):
    assert main(["kb", "add", QUINE, NEVER_CREATED, "--kb", kb_dir]) == 2
    err = capsys.readouterr().err
    assert "unknown_entity" in err and NEVER_CREATED in err and "nothing was added" in err
    assert not changes_path(kb_dir).exists()


def test_an_api_answering_html_is_a_clear_error(stand_in, kb_dir, capsys):
    stand_in.always = (200, {"Content-Type": "text/html"}, b"<html><body>Wikimedia Error</body></html>")
    assert main(["kb", "add", QUINE, "--kb", kb_dir]) == 5
    err = capsys.readouterr().err
    assert "unexpected reply from the Wikidata API" in err and "Traceback" not in err
    assert not changes_path(kb_dir).exists()


def test_429_is_retried_with_backoff_then_succeeds(stand_in, kb_dir, capsys):
    stand_in.script.extend([(429, {}, {"error": "slow down"})] * 2)
    assert main(["kb", "add", QUINE, "--kb", kb_dir]) == 0
    assert len(stand_in.seen) == 3
    assert qid_of(kb_dir, "Willard Van Orman Quine") == QUINE


def test_429_asking_for_a_long_wait_gives_up_at_once_with_a_clear_error(stand_in, kb_dir, capsys):
    stand_in.always = (429, {"Retry-After": "3600"}, {"error": "slow down"})
    assert main(["kb", "add", QUINE, "--kb", kb_dir]) == 5
    err = capsys.readouterr().err
    assert "[unavailable]" in err and "asks to wait 3600 s" in err
    assert len(stand_in.seen) == 1


def newsroom_entity(entity_id: str, label: str, aliases=()) -> dict:
    return {"id": entity_id, "type": "item",
            "labels": {"en": {"language": "en", "value": label}},
            "descriptions": {"en": {"language": "en", "value": "news agency"}},
            "aliases": {"en": [{"language": "en", "value": a} for a in aliases]},
            "claims": {}, "sitelinks": {}}


def write_file(path, entities) -> str:
    # official dump layout: "[", one entity per line ending in ",", "]"
    lines = ["["] + [json.dumps(e) + ("," if i < len(entities) - 1 else "") for i, e in enumerate(entities)] + ["]"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_newsroom_file_adds_entities_under_local_ids(stand_in, kb_dir, tmp_path, capsys):
    custom = write_file(tmp_path / "custom.json", [newsroom_entity("local:philo-wire", "Philosopher Wire",
                                                                   ["PhiloWire"])])
    assert main(["kb", "add", "--file", custom, "--kb", kb_dir]) == 0
    assert added(capsys)["added"] == ["local:philo-wire"]
    kb = open_kb(kb_dir)
    result = link("PhiloWire reported that Macron met Putin.", kb)
    assert {m.text: m.qid for m in result.mentions}["PhiloWire"] == "local:philo-wire"
    assert result.entities["local:philo-wire"]["wikidata_url"] is None


def test_a_custom_id_colliding_with_a_qid_is_refused(stand_in, kb_dir, tmp_path, capsys, monkeypatch):
    custom = write_file(tmp_path / "custom.json", [newsroom_entity("Q42", "Our Douglas")])
    assert main(["kb", "add", "--file", custom, "--kb", kb_dir]) == 2
    err = capsys.readouterr().err
    assert "Q42 is a Wikidata QID" in err and "'local:'" in err
    assert not changes_path(kb_dir).exists()
    # a configured prefix that could produce QIDs is refused at start-up
    monkeypatch.setenv("FACTLINK_LOCAL_ID_PREFIX", "Q")
    assert main(["kb", "add", "--file", custom, "--kb", kb_dir]) == 2
    assert "FACTLINK_LOCAL_ID_PREFIX" in capsys.readouterr().err


def test_wikidata_entities_from_a_file_are_accepted_when_asked(stand_in, kb_dir, tmp_path, capsys):
    entity = read_entities()[QUINE]
    custom = write_file(tmp_path / "extract.json", [entity])
    assert main(["kb", "add", "--file", custom, "--kb", kb_dir]) == 2
    capsys.readouterr()
    assert main(["kb", "add", "--file", custom, "--wikidata-ids", "--kb", kb_dir]) == 0
    assert qid_of(kb_dir, "Willard Van Orman Quine") == QUINE
    assert stand_in.seen == []                      # nothing fetched


def test_nothing_to_add_is_a_usage_error(stand_in, kb_dir, capsys):
    assert main(["kb", "add", "--kb", kb_dir]) == 2
    assert "name QIDs" in capsys.readouterr().err
    assert main(["kb", "add", "Q0x", "--kb", kb_dir]) == 2
    assert "not a Wikidata item id" in capsys.readouterr().err
