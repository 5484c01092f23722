"""The service's KB overlay, end to end: a private Redis, a real Celery worker and the real HTTP
app over a private starter KB, with a local stand-in of the Wikidata API serving real entities.

What a newsroom sees: a name the KB lacked is linked right after ``POST /v1/kb/entities`` (or
``factlink kb add --service``); a changed label shows in the next annotate and card; nothing
cached before a change is served as current; bad input adds nothing."""
from __future__ import annotations

import copy
import hashlib
import subprocess
import sys
import threading
import time

import orjson
import pytest
import redis as redis_client
from service_fixtures import (REPO, ApiServer, WorkerProcess, factlink_env, settings_for,
                              wait_for)
# the same stand-in of the Wikidata API, serving real entities (reset per test by `wikidata`)
from test_wikidata_refresh import entities, read_entities, running_server, wikidata  # noqa: F401
from test_wikidata_refresh import pytestmark as needs_samples

from linkers import open_kb
from service.resources import OVERLAY
from workers import keys
from workers.embedded_redis import EmbeddedRedis
from workers.jobs import MAX_CACHED_PER_ENTITY, STORE_SCRIPT, run_script

pytestmark = [needs_samples, pytest.mark.integration]

QUINE = "Q214969"                 # in the API sample, not in the starter KB
BARRETT = "Q7608665"              # Stephen Barrett, Irish politician: likewise
TEXT = "The philosopher Willard Van Orman Quine met Macron in Paris."


@pytest.fixture(scope="module")
def stack(tmp_path_factory, running_server):
    """Redis, one worker and the API on a private copy of the starter KB."""
    kb = open_kb(cache_dir=tmp_path_factory.mktemp("overlay-kb"))
    kb_path = str(kb.path)
    kb.close()
    env = {"FACTLINK_KB": kb_path, "FACTLINK_WIKIDATA_API": running_server.url}
    with EmbeddedRedis(tmp_path_factory.mktemp("overlay-redis")) as server:
        worker = WorkerProcess(server.url, **env).wait_ready()
        api = ApiServer(settings_for(REDIS_URL=server.url, **env)).start()
        try:
            yield {"redis": server.url, "api": api, "env": env, "kb": kb_path}
        finally:
            api.stop()
            worker.stop()


@pytest.fixture
def api(stack, wikidata):
    return stack["api"]


def annotate(http, api, text: str = TEXT) -> tuple[dict, dict]:
    reply = http.post(f"{api.url}/v1/annotate", json={"text": text})
    assert reply.status_code == 200, reply.text
    return reply.json(), reply.headers


def linked(result: dict) -> dict[str, str | None]:
    return {m["text"]: m["qid"] for m in result["mentions"]}


def _base(stack) -> str:
    return stack["api"].app[OVERLAY].base_version


def generation(stack) -> int:
    return int(redis_client.Redis.from_url(stack["redis"]).llen(keys.kb_changes(_base(stack))))


def test_a_nil_mention_is_linked_after_adding_the_entity(http, api, stack):
    before, headers = annotate(http, api)
    assert linked(before)["Willard Van Orman Quine"] is None
    reply = http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["added"] == [QUINE] and body["kb_version"] == f"{_base(stack)}+o{body['generation']}"
    after, headers = annotate(http, api)
    assert linked(after)["Willard Van Orman Quine"] == QUINE
    assert after["kb_version"] == body["kb_version"] and headers["X-Factlink-Cache"] == "miss"
    card = http.get(f"{api.url}/v1/entities/{QUINE}")
    assert card.status_code == 200 and card.json()["label"] == "Willard Van Orman Quine"
    lookup = http.get(f"{api.url}/v1/lookup", params={"mention": "Quine"}).json()
    assert lookup["candidates"][0]["qid"] == QUINE


def test_a_label_change_shows_in_the_next_annotate_and_card(http, api, stack, wikidata):
    assert http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]}).status_code == 200
    old_card = http.get(f"{api.url}/v1/entities/{QUINE}")
    annotate(http, api)                                       # cached under this version
    edited = copy.deepcopy(wikidata.entities[QUINE])
    edited["labels"]["en"]["value"] = "W. V. O. Quine"
    wikidata.entities[QUINE] = edited
    try:
        assert http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]}).status_code == 200
        result, headers = annotate(http, api, "W. V. O. Quine met Macron in Paris.")
        assert linked(result)["W. V. O. Quine"] == QUINE
        assert result["entities"][QUINE]["label"] == "W. V. O. Quine"
        card = http.get(f"{api.url}/v1/entities/{QUINE}",
                        headers={"If-None-Match": old_card.headers["ETag"]})
        assert card.status_code == 200 and card.json()["label"] == "W. V. O. Quine"
        again, headers = annotate(http, api)                  # the old text: re-linked, not served
        assert headers["X-Factlink-Cache"] == "miss" and again["kb_version"] == result["kb_version"]
        assert QUINE not in again["entities"]                 # the old label is no name of it now
    finally:
        wikidata.entities[QUINE] = read_entities()[QUINE]


def test_a_stale_card_refresh_of_a_changed_entity_is_dropped(http, api, stack):
    """Card refreshes are not keyed by kb_version: the entity index deletes them on a change."""
    store = redis_client.Redis.from_url(stack["redis"])
    assert http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]}).status_code == 200
    assert http.post(f"{api.url}/v1/entities/refresh", json={"qids": [QUINE]}).status_code == 202
    wait_for(lambda: store.exists(keys.card_refresh(QUINE, None)), 20, what="the card refresh")
    assert keys.card_refresh(QUINE, None).encode() in store.smembers(keys.kb_cached(QUINE))
    assert http.post(f"{api.url}/v1/kb/entities", json={"entities": [{
        "id": QUINE, "type": "item", "labels": {"en": {"language": "en", "value": "Quine (edited)"}},
        "descriptions": {}, "aliases": {}, "claims": {}, "sitelinks": {}}],
        "wikidata_ids": True}).status_code == 200
    assert not store.exists(keys.card_refresh(QUINE, None))
    assert http.get(f"{api.url}/v1/entities/{QUINE}").json()["label"] == "Quine (edited)"


def test_a_card_refresh_fetched_before_a_change_of_its_entity_is_not_stored_after_it(
        http, api, stack, wikidata):
    """A slow Wikidata reply: the refresh's fetch is under way when the entity is changed (its
    cached answers deleted). Stored after the change, the refresh would be served over it
    until it expired; the worker drops it instead. A refresh asked after the change is stored."""
    store = redis_client.Redis.from_url(stack["redis"])
    assert http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]}).status_code == 200
    store.delete(keys.card_refresh(QUINE, None))
    cards_before = int(store.hget(keys.GENERATIONS, "cards") or 0)
    wikidata.hold[QUINE] = threading.Event()
    wikidata.seen.clear()
    try:
        assert http.post(f"{api.url}/v1/entities/refresh", json={"qids": [QUINE]}).status_code == 202
        wait_for(lambda: any(QUINE in params.get("ids", "").split("|") for params, _h in wikidata.seen),
                 20, what="the refresh's fetch")
        assert http.post(f"{api.url}/v1/kb/entities", json={"entities": [{
            "id": QUINE, "type": "item", "labels": {"en": {"language": "en", "value": "Quine (changed)"}},
            "descriptions": {}, "aliases": {}, "claims": {}, "sitelinks": {}}],
            "wikidata_ids": True}).status_code == 200
    finally:
        wikidata.hold.pop(QUINE).set()
    # Wikidata edits the entity, and a refresh is asked after the change: the stack's one
    # worker takes one task at a time, so once this refresh is stored the held one has ended
    original = wikidata.entities[QUINE]
    later = copy.deepcopy(original)
    later["labels"]["en"]["value"] = "Quine (a later Wikidata edit)"
    wikidata.entities[QUINE] = later
    try:
        assert http.post(f"{api.url}/v1/entities/refresh", json={"qids": [QUINE]}).status_code == 202
        wait_for(lambda: b"a later Wikidata edit" in (store.get(keys.card_refresh(QUINE, None)) or b""),
                 20, what="the later refresh")
    finally:
        wikidata.entities[QUINE] = original
    assert int(store.hget(keys.GENERATIONS, "cards")) == cards_before + 1    # that one only
    assert keys.card_refresh(QUINE, None).encode() in store.smembers(keys.kb_cached(QUINE))


def test_an_unknown_qid_is_404_and_adds_nothing(http, api, stack):
    before = http.post(f"{api.url}/v1/kb/entities", json={"qids": [QUINE]}).json()["generation"]
    reply = http.post(f"{api.url}/v1/kb/entities", json={"qids": [BARRETT, "Q999999999991"]})
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["code"] == "unknown_entity" and "Q999999999991" in error["message"]
    assert generation(stack) == before
    assert http.get(f"{api.url}/v1/entities/{BARRETT}").status_code == 404


def test_wikidata_answering_html_or_429_is_a_clear_503(http, api, stack, wikidata):
    wikidata.always = (200, {"Content-Type": "text/html"}, b"<html>Wikimedia Error</html>")
    reply = http.post(f"{api.url}/v1/kb/entities", json={"qids": [BARRETT]})
    assert reply.status_code == 503 and "unexpected reply" in reply.json()["error"]["message"]
    wikidata.always = (429, {"Retry-After": "3600"}, {"error": "slow down"})
    reply = http.post(f"{api.url}/v1/kb/entities", json={"qids": [BARRETT]})
    assert reply.status_code == 503 and "asks to wait" in reply.json()["error"]["message"]
    assert int(reply.headers["Retry-After"]) > 0


@pytest.mark.parametrize("body, message", [
    ({"entities": [{"id": "Q42", "labels": {"en": {"value": "Our Douglas"}}}]}, "is a Wikidata QID"),
    ({"entities": [{"id": "acme", "labels": {"en": {"value": "Acme"}}}]}, "local id"),
    ({"qids": ["P31"]}, "not a Wikidata item id"),
    ({}, "name 'qids'"),
    ({"qids": [QUINE], "extra": 1}, "unknown field"),
])
def test_bad_entities_are_400_and_add_nothing(http, api, stack, body, message):
    before = generation(stack)
    reply = http.post(f"{api.url}/v1/kb/entities", json=body)
    assert reply.status_code == 400 and message in reply.json()["error"]["message"]
    assert generation(stack) == before


def test_a_newsroom_entity_is_linked_and_has_a_card(http, api, stack):
    entity = {"id": "local:philo-wire", "type": "item",
              "labels": {"en": {"language": "en", "value": "Philosopher Wire"}},
              "aliases": {"en": [{"language": "en", "value": "PhiloWire"}]},
              "descriptions": {"en": {"language": "en", "value": "news agency"}}}
    assert http.post(f"{api.url}/v1/kb/entities", json={"entities": [entity]}).status_code == 200
    result, _ = annotate(http, api, "PhiloWire reported that Macron met Putin.")
    assert linked(result)["PhiloWire"] == "local:philo-wire"
    card = http.get(f"{api.url}/v1/entities/local:philo-wire")
    assert card.status_code == 200 and card.json()["label"] == "Philosopher Wire"


def test_kb_add_from_the_command_line_reaches_every_process(http, api, stack):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "service.cli", "kb", "add", BARRETT, "--service"],
                          env=factlink_env(REDIS_URL=stack["redis"], **stack["env"]), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: linked(annotate(http, api, "Stephen Barrett spoke in Dublin.")[0])
             .get("Stephen Barrett") == BARRETT, 10, what="the API and worker to see the change")
    assert time.monotonic() - started < 30


def test_adding_needs_an_api_key_when_keys_are_on(http, stack):
    keyed = ApiServer(settings_for(REDIS_URL=stack["redis"], FACTLINK_API_KEYS="newsroom-key",
                                   **stack["env"])).start()
    try:
        reply = http.post(f"{keyed.url}/v1/kb/entities", json={"qids": [QUINE]})
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"
        reply = http.post(f"{keyed.url}/v1/kb/entities", json={"qids": [QUINE]},
                          headers={"X-API-Key": "newsroom-key"})
        assert reply.status_code == 200
        # overrides too (a plain key's own); the audit log names the key by its fingerprint
        rule = {"rules": [{"kind": "house_alias", "alias": "WVO", "qid": QUINE}], "scope": "key"}
        assert http.post(f"{keyed.url}/v1/overrides", json=rule).status_code == 401
        added = http.post(f"{keyed.url}/v1/overrides", json=rule, headers={"X-API-Key": "newsroom-key"})
        rule_id = added.json()["rules"][0]["id"]
        audit = http.get(f"{keyed.url}/v1/overrides", headers={"X-API-Key": "newsroom-key"}).json()["audit"]
        assert audit[0]["by"] == "key:" + hashlib.sha256(b"newsroom-key").hexdigest()[:12]
        assert "newsroom-key" not in str(audit)
        http.delete(f"{keyed.url}/v1/overrides/{rule_id}", headers={"X-API-Key": "newsroom-key"})
    finally:
        keyed.stop()


def test_the_entity_index_is_bounded_and_evicts_what_it_forgets(stack):
    store = redis_client.Redis.from_url(stack["redis"])
    qid = "local:bounded-test"
    for i in range(MAX_CACHED_PER_ENTITY + 10):        # stored and indexed as a refreshed card is
        run_script(store, STORE_SCRIPT,
                   [f"factlink:test-entry:{i}", keys.KB_CHANGED, keys.kb_cached(qid)],
                   [b"x", 600, MAX_CACHED_PER_ENTITY, qid, b""])
    indexed = store.smembers(keys.kb_cached(qid))
    assert len(indexed) == MAX_CACHED_PER_ENTITY
    alive = [i for i in range(MAX_CACHED_PER_ENTITY + 10) if store.exists(f"factlink:test-entry:{i}")]
    assert len(alive) == MAX_CACHED_PER_ENTITY           # everything cached is indexed


def test_a_linked_result_is_indexed_under_its_entities_by_the_script_that_stores_it(
        http, api, stack):
    store = redis_client.Redis.from_url(stack["redis"])
    macron = keys.kb_cached("Q3052772")
    # a full index of entries still cached: the new result's arrival pushes one out
    fakes = [f"factlink:test-macron:{i}".encode() for i in range(MAX_CACHED_PER_ENTITY)]
    store.delete(macron)
    for key in fakes:
        store.set(key, b"x")
    store.sadd(macron, *fakes)
    _result, headers = annotate(http, api, "Macron spoke in Lyon on Tuesday about pensions.")
    assert headers["X-Factlink-Cache"] == "miss"
    everyone = set(fakes) | {keys.result(headers["X-Factlink-Job"]).encode()}
    indexed = store.smembers(macron)
    assert len(indexed) == MAX_CACHED_PER_ENTITY and indexed < everyone
    (pushed_out,) = everyone - indexed
    assert not store.exists(pushed_out)             # what left the index left the cache
    assert all(store.exists(key) for key in indexed)


# --- newsroom overrides ----------------------------------------------------------------------
CRIMEA, REPUBLIC_OF_CRIMEA, PUTIN = "Q7835", "Q15966495", "Q7747"


def qids_anywhere(result: dict) -> set[str]:
    return ({m["qid"] for m in result["mentions"]} | set(result["entities"])
            | {c["qid"] for m in result["mentions"] for c in m.get("candidates", [])})


def test_a_pinned_alias_wins_until_the_rule_is_removed(http, api, stack):
    text = "Putin spoke about Crimea."
    assert linked(annotate(http, api, text)[0])["Crimea"] == CRIMEA
    reply = http.post(f"{api.url}/v1/overrides",
                      json={"rules": [{"kind": "pin", "alias": "Crimea", "qid": REPUBLIC_OF_CRIMEA}]})
    assert reply.status_code == 200, reply.text
    rule_id = reply.json()["rules"][0]["id"]
    assert linked(annotate(http, api, text)[0])["Crimea"] == REPUBLIC_OF_CRIMEA
    listed = http.get(f"{api.url}/v1/overrides").json()
    (rule,) = [r for r in listed["rules"] if r["id"] == rule_id]
    assert rule["kind"] == "pin" and rule["by"].startswith("anonymous@127.0.0.1") and rule["at"] > 0
    assert listed["audit"][0]["id"] == rule_id and listed["audit"][0]["by"] == rule["by"]
    assert http.delete(f"{api.url}/v1/overrides/{rule_id}").status_code == 200
    assert linked(annotate(http, api, text)[0])["Crimea"] == CRIMEA
    assert http.get(f"{api.url}/v1/overrides").json()["audit"][0]["rule"] is None   # the removal
    assert http.delete(f"{api.url}/v1/overrides/{rule_id}").json()["error"]["code"] == "unknown_rule"


def test_a_banned_qid_never_appears(http, api, stack):
    from service_fixtures import SAMPLE_ARTICLE
    body = {"text": SAMPLE_ARTICLE, "options": {"top_k": 10}}
    assert PUTIN in qids_anywhere(http.post(f"{api.url}/v1/annotate", json=body).json())
    reply = http.post(f"{api.url}/v1/overrides", json={"rules": [{"kind": "ban_qid", "qid": PUTIN}]})
    rule_id = reply.json()["rules"][0]["id"]
    try:
        result = http.post(f"{api.url}/v1/annotate", json=body).json()
        assert PUTIN not in qids_anywhere(result)
        lookup = http.get(f"{api.url}/v1/lookup", params={"mention": "Putin"}).json()
        assert PUTIN not in {c["qid"] for c in lookup["candidates"]}
    finally:
        http.delete(f"{api.url}/v1/overrides/{rule_id}")


def test_an_override_for_an_unknown_qid_is_404_and_adds_nothing(http, api, stack):
    before = generation(stack)
    reply = http.post(f"{api.url}/v1/overrides", json={"rules": [
        {"kind": "house_alias", "alias": "Vova", "qid": PUTIN},
        {"kind": "pin", "alias": "Stephen", "qid": "Q999999999991"}]})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "unknown_entity"
    assert generation(stack) == before
    bad = http.post(f"{api.url}/v1/overrides", json={"rules": [{"kind": "veto", "qid": PUTIN}]})
    assert bad.status_code == 400 and "unknown rule kind" in bad.json()["error"]["message"]


# --- newsroom overrides per API key --------------------------------------------------------
DESK_A, DESK_B, CHIEF = "desk-a-key", "desk-b-key", "chief-editor-key"
CRIMEA_TEXT = "Putin spoke about Crimea."


@pytest.fixture(scope="module")
def keyed(stack):
    """A second API process on the same Redis and worker, with keys on: two desks and an admin."""
    server = ApiServer(settings_for(REDIS_URL=stack["redis"], FACTLINK_API_KEYS=f"{DESK_A},{DESK_B}",
                                    FACTLINK_ADMIN_KEYS=CHIEF, **stack["env"])).start()
    try:
        yield server
    finally:
        server.stop()


def as_key(http, keyed, key: str, method: str, path: str, **kwargs):
    return http.request(method, f"{keyed.url}{path}", headers={"X-API-Key": key}, **kwargs)


def annotate_as(http, keyed, key: str, text: str = CRIMEA_TEXT):
    reply = as_key(http, keyed, key, "POST", "/v1/annotate", json={"text": text})
    assert reply.status_code == 200, reply.text
    return linked(reply.json()), reply.headers


def test_a_key_scoped_pin_wins_for_that_key_and_no_cached_result_leaks(http, keyed):
    before_b, headers_b = annotate_as(http, keyed, DESK_B)      # cached for everyone first
    assert before_b["Crimea"] == CRIMEA
    pin = {"rules": [{"kind": "pin", "alias": "Crimea", "qid": REPUBLIC_OF_CRIMEA}], "scope": "key"}
    added = as_key(http, keyed, DESK_A, "POST", "/v1/overrides", json=pin)
    assert added.status_code == 200, added.text
    rule = added.json()["rules"][0]
    assert rule["scope"] == "key:" + hashlib.sha256(DESK_A.encode()).hexdigest()[:12]
    try:
        mine, headers_a = annotate_as(http, keyed, DESK_A)
        assert mine["Crimea"] == REPUBLIC_OF_CRIMEA
        again, again_headers = annotate_as(http, keyed, DESK_A)      # from the answer cache
        assert again["Crimea"] == REPUBLIC_OF_CRIMEA and again_headers["X-Factlink-Cache"] == "hit"
        theirs, headers_b = annotate_as(http, keyed, DESK_B)          # same body, other key
        assert theirs["Crimea"] == CRIMEA
        assert headers_b["X-Factlink-Job"] != headers_a["X-Factlink-Job"]
        # the job id is the Redis result cache's key: the scope is part of it, for /v1/jobs too
        job = as_key(http, keyed, DESK_A, "POST", "/v1/jobs", json={"text": CRIMEA_TEXT})
        assert job.status_code == 202 and job.json()["jobs"][0]["id"] == headers_a["X-Factlink-Job"]
        other = as_key(http, keyed, DESK_B, "POST", "/v1/jobs", json={"text": CRIMEA_TEXT})
        assert other.json()["jobs"][0]["id"] == headers_b["X-Factlink-Job"]
        # desk B neither sees nor removes desk A's rule
        listed = as_key(http, keyed, DESK_B, "GET", "/v1/overrides").json()
        assert rule["id"] not in {r["id"] for r in listed["rules"]}
        assert rule["id"] not in {entry["id"] for entry in listed["audit"]}
        gone = as_key(http, keyed, DESK_B, "DELETE", f"/v1/overrides/{rule['id']}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_rule"
        assert rule["id"] in {r["id"] for r in as_key(http, keyed, DESK_A, "GET", "/v1/overrides").json()["rules"]}
    finally:
        assert as_key(http, keyed, DESK_A, "DELETE", f"/v1/overrides/{rule['id']}").status_code == 200
    assert annotate_as(http, keyed, DESK_A)[0]["Crimea"] == CRIMEA
    audit = as_key(http, keyed, DESK_A, "GET", "/v1/overrides").json()["audit"]
    assert audit[0]["id"] == rule["id"] and audit[0]["rule"] is None and audit[0]["scope"] == rule["scope"]
    assert DESK_A not in str(audit)


def test_a_global_rule_needs_an_admin_key_and_holds_for_every_key(http, keyed, api):
    ban = {"rules": [{"kind": "ban_alias", "alias": "Crimea"}]}
    refused = as_key(http, keyed, DESK_A, "POST", "/v1/overrides", json=ban)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "FACTLINK_ADMIN_KEYS" in refused.json()["error"]["message"]
    added = as_key(http, keyed, CHIEF, "POST", "/v1/overrides", json=ban)
    assert added.status_code == 200, added.text
    rule_id = added.json()["rules"][0]["id"]
    scoped = as_key(http, keyed, DESK_A, "POST", "/v1/overrides", json={
        "rules": [{"kind": "house_alias", "alias": "Vova", "qid": PUTIN}], "scope": "key"})
    scoped_id = scoped.json()["rules"][0]["id"]
    try:
        text = "Vova spoke about Crimea."
        mine = annotate_as(http, keyed, DESK_A, text)[0]
        assert mine.get("Crimea") is None and mine["Vova"] == PUTIN      # global ban + own alias
        theirs = annotate_as(http, keyed, DESK_B, text)[0]
        assert theirs.get("Crimea") is None and theirs.get("Vova") is None
        assert linked(annotate(http, api, text)[0]).get("Crimea") is None   # the key-less API too
        assert as_key(http, keyed, DESK_A, "DELETE", f"/v1/overrides/{rule_id}").status_code == 403
        everything = {r["id"] for r in as_key(http, keyed, CHIEF, "GET", "/v1/overrides").json()["rules"]}
        assert {rule_id, scoped_id} <= everything                      # an admin sees every scope
    finally:
        assert as_key(http, keyed, CHIEF, "DELETE", f"/v1/overrides/{rule_id}").status_code == 200
        as_key(http, keyed, DESK_A, "DELETE", f"/v1/overrides/{scoped_id}")
    assert annotate_as(http, keyed, DESK_B)[0]["Crimea"] == CRIMEA


def test_a_key_scope_needs_keys_on(http, api):
    reply = http.post(f"{api.url}/v1/overrides", json={
        "rules": [{"kind": "ban_alias", "alias": "Crimea"}], "scope": "key"})
    assert reply.status_code == 400 and "needs API keys on" in reply.json()["error"]["message"]
    odd = http.post(f"{api.url}/v1/overrides", json={"rules": [{"kind": "ban_alias", "alias": "X"}],
                                                       "scope": "everyone"})
    assert odd.status_code == 400 and "'scope'" in odd.json()["error"]["message"]


def test_relink_with_an_api_key_applies_that_keys_rules(http, keyed, stack, tmp_path):
    pin = {"rules": [{"kind": "pin", "alias": "Crimea", "qid": REPUBLIC_OF_CRIMEA}], "scope": "key"}
    rule_id = as_key(http, keyed, DESK_A, "POST", "/v1/overrides", json=pin).json()["rules"][0]["id"]
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a1", "text": "Putin spoke about Crimea."}\n')

    def relink(out: str, *flags: str) -> list[dict]:
        done = subprocess.run([sys.executable, "-m", "service.cli", "relink", str(source), "--out",
                               str(tmp_path / out), "--quiet", *flags],
                              env=factlink_env(REDIS_URL=stack["redis"], **stack["env"]), cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return [orjson.loads(line) for line in (tmp_path / out).read_bytes().splitlines()]

    try:
        (mine,) = relink("desk-a.jsonl", "--api-key", DESK_A)
        (plain,) = relink("plain.jsonl")
        assert linked(mine)["Crimea"] == REPUBLIC_OF_CRIMEA and mine["rules_scope"].startswith("key:")
        assert linked(plain)["Crimea"] == CRIMEA and "rules_scope" not in plain
        # the same output file without the key: the key's line is not current, it is redone
        (redone,) = relink("desk-a.jsonl")
        assert linked(redone)["Crimea"] == CRIMEA
    finally:
        as_key(http, keyed, DESK_A, "DELETE", f"/v1/overrides/{rule_id}")
    local = subprocess.run([sys.executable, "-m", "service.cli", "relink", str(source), "--out",
                            str(tmp_path / "local.jsonl"), "--local", "--api-key", DESK_A],
                           env=factlink_env(**stack["env"]), cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert local.returncode != 0 and "without --local" in local.stderr
