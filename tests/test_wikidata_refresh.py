"""The Wikidata refresh client against a real local HTTP server speaking ``wbgetentities``.

The server answers with real entities read at test time from the shared Wikidata samples
(never copied into the repo), filtered the way the API filters them (``languages``,
``sitefilter``, ``props``), and refuses more than 50 ids like the real API. Faults (429, 503,
maxlag) are scripted per test; waits are recorded instead of slept so the file runs in ~1 s.
"""
from __future__ import annotations

import bz2
import json
import os
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from linkers import build_kb, errors, open_kb
from workers.wikidata import MAX_IDS_PER_REQUEST, WikidataClient, refresh_cards

SHARED = Path(os.environ.get("FACTLINK_SHARED_DATA")
              or Path(__file__).resolve().parents[2] / "shared/data")
SAMPLES = SHARED / "wikidata" / "samples"
API_SAMPLE = SAMPLES / "api-entities-sample.json.bz2"      # wbgetentities shape, one per line
DUMP_SAMPLE = SAMPLES / "official-dump-sample.json.bz2"    # dump layout: [, entity, ..., ]

pytestmark = pytest.mark.skipif(not (API_SAMPLE.exists() and DUMP_SAMPLE.exists()),
                                reason=f"shared Wikidata samples not found under {SAMPLES}")

NEVER_CREATED = ["Q999999999991", "Q999999999992"]


def read_entities() -> dict[str, dict]:
    """Both samples by QID; the dump's copy wins on overlap, so the server and the test KB
    (built from the dump sample) agree on every label."""
    entities: dict[str, dict] = {}
    for path in (API_SAMPLE, DUMP_SAMPLE):
        with bz2.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                line = line.strip().rstrip(",")
                if line and line not in ("[", "]"):
                    entity = json.loads(line)
                    entities[entity["id"]] = entity
    return entities


def as_the_api_returns(entity: dict, params: dict) -> dict:
    """Apply wbgetentities' ``props``, ``languages`` and ``sitefilter`` to a full entity."""
    props = set(params["props"].split("|")) if "props" in params else None
    languages = set(params["languages"].split("|")) if "languages" in params else None
    sites = set(params["sitefilter"].split("|")) if "sitefilter" in params else None
    out = {}
    for key, value in entity.items():
        if key in ("labels", "descriptions", "aliases", "claims", "sitelinks") \
                and props is not None and key not in props:
            continue
        if key in ("labels", "descriptions", "aliases") and languages is not None:
            value = {lang: v for lang, v in value.items() if lang in languages}
        if key == "sitelinks" and sites is not None:
            value = {site: v for site, v in value.items() if site in sites}
        out[key] = value
    return out


class FakeWikidata(ThreadingHTTPServer):
    """``api.php`` with ``action=wbgetentities`` over real entities, plus scripted faults."""

    daemon_threads = True

    def __init__(self, entities: dict[str, dict]):
        super().__init__(("127.0.0.1", 0), WbGetEntitiesHandler)
        self.entities = entities
        self.url = f"http://127.0.0.1:{self.server_address[1]}/w/api.php"
        self.reset()

    def reset(self) -> None:
        self.seen: list[tuple[dict, dict]] = []    # (query params, request headers)
        self.script: deque = deque()               # (status, headers, body) served first
        self.always: tuple | None = None           # served after the script, if set
        # QID -> an event: a request asking for that QID is answered once the event is set
        # (a slow reply, held while a test changes something)
        self.hold: dict[str, threading.Event] = {}


class WbGetEntitiesHandler(BaseHTTPRequestHandler):
    server: FakeWikidata

    def do_GET(self) -> None:
        params = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.server.seen.append((params, dict(self.headers)))
        for qid in params.get("ids", "").split("|"):
            if qid in self.server.hold:
                self.server.hold[qid].wait(30)
        if self.server.script:
            self.reply(*self.server.script.popleft())
        elif self.server.always:
            self.reply(*self.server.always)
        else:
            self.reply(200, {}, self.wbgetentities(params))

    def wbgetentities(self, params: dict) -> dict:
        if params.get("action") != "wbgetentities":
            return {"error": {"code": "badvalue", "info": "Unrecognized value for action"}}
        ids = params.get("ids", "").split("|")
        if len(ids) > 50:
            return {"error": {"code": "toomanyvalues",
                              "info": 'Too many values supplied for parameter "ids". The limit is 50.'}}
        entities = {}
        for qid in ids:
            entity = self.server.entities.get(qid)
            entities[qid] = (as_the_api_returns(entity, params) if entity
                             else {"id": qid, "missing": ""})
        return {"entities": entities, "success": 1}

    def reply(self, status: int, headers: dict, body) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:   # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def entities() -> dict[str, dict]:
    return read_entities()


@pytest.fixture(scope="module")
def running_server(entities):
    server = FakeWikidata(entities)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def wikidata(running_server) -> FakeWikidata:
    running_server.reset()
    return running_server


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(wikidata, waits):
    with WikidataClient(base_url=wikidata.url, timeout=5, max_retries=3, backoff=0.001,
                        sleep=waits.append) as client:
        yield client


def english_label(entity: dict) -> str | None:
    return entity.get("labels", {}).get("en", {}).get("value")


def test_fetch_batches_at_most_50_ids_and_returns_real_entities(client, wikidata, entities):
    qids = sorted(entities)[:120]
    fetched = client.fetch(qids)

    assert len(wikidata.seen) == 3
    batches = [params["ids"].split("|") for params, _ in wikidata.seen]
    assert [len(b) for b in batches] == [50, 50, 20]
    assert max(len(b) for b in batches) <= MAX_IDS_PER_REQUEST
    assert [q for b in batches for q in b] == qids            # each id asked once, in order
    assert list(fetched) == qids and fetched.missing == []
    for qid in qids:
        assert fetched[qid]["id"] == qid
        assert english_label(fetched[qid]) == english_label(entities[qid])
        assert set(fetched[qid].get("sitelinks", {})) <= {"enwiki"}


def test_every_request_is_polite(client, wikidata):
    client.fetch(["Q31", "Q42", "Q31"])                        # duplicates asked once
    (params, headers), = wikidata.seen
    assert params == {"action": "wbgetentities", "ids": "Q31|Q42", "format": "json",
                      "maxlag": "5", "props": "labels|descriptions|aliases|claims|sitelinks",
                      "languages": "en", "sitefilter": "enwiki"}
    user_agent = headers["User-Agent"]
    assert user_agent.startswith("factlink/") and "https://" in user_agent
    assert "python-requests" in user_agent and not user_agent.startswith("python-requests")


def test_429_then_200_is_retried_honouring_retry_after(client, wikidata, waits):
    wikidata.script.append((429, {"Retry-After": "2"}, {"error": "slow down"}))
    fetched = client.fetch(["Q31"])
    assert english_label(fetched["Q31"]) == "Belgium"
    assert len(wikidata.seen) == 2
    assert len(waits) == 1 and waits[0] >= 2                  # Retry-After is a lower bound


def test_maxlag_error_is_retried(client, wikidata, waits):
    maxlag = {"error": {"code": "maxlag", "info": "Waiting for a database server: 7 seconds lagged.",
                        "lag": 7}}
    wikidata.script.extend([(200, {"Retry-After": "1"}, maxlag)] * 2)
    fetched = client.fetch(["Q31"])
    assert fetched["Q31"]["id"] == "Q31"
    assert len(wikidata.seen) == 3 and len(waits) == 2 and min(waits) >= 1


def test_permanent_503_gives_a_clear_error_after_retries(client, wikidata, waits):
    wikidata.always = (503, {}, b"<html>Service Unavailable</html>")
    with pytest.raises(errors.Unavailable) as raised:
        client.fetch(["Q31"])
    assert len(wikidata.seen) == 1 + client.max_retries
    assert len(waits) == client.max_retries
    assert all(0 <= w <= 0.001 * 2 ** i for i, w in enumerate(waits))   # jittered backoff
    assert "after 4 attempts" in raised.value.message and "HTTP 503" in raised.value.message
    assert raised.value.to_dict()["code"] == "unavailable"


def test_retry_after_beyond_max_wait_gives_up_at_once_and_says_when(wikidata, waits):
    wikidata.script.append((429, {"Retry-After": "3600"}, {}))
    with WikidataClient(base_url=wikidata.url, max_wait=30, sleep=waits.append) as client:
        with pytest.raises(errors.Unavailable) as raised:
            client.fetch(["Q31"])
    assert waits == [] and len(wikidata.seen) == 1
    assert raised.value.details["retry_after"] == 3600


def test_other_api_errors_are_not_retried(client, wikidata, waits):
    wikidata.script.append((200, {}, {"error": {"code": "param-illegal", "info": "bad ids"}}))
    with pytest.raises(errors.Unavailable, match="param-illegal"):
        client.fetch(["Q31"])
    assert len(wikidata.seen) == 1 and waits == []


def test_server_down_is_unavailable_after_retries(waits):
    with socket.socket() as probe:                             # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with WikidataClient(base_url=f"http://127.0.0.1:{port}/w/api.php", timeout=1,
                        max_retries=2, backoff=0.001, sleep=waits.append) as client:
        with pytest.raises(errors.Unavailable, match="after 3 attempts"):
            client.fetch(["Q31"])
    assert len(waits) == 2


def test_unknown_ids_are_reported_missing_not_errors(client, wikidata):
    fetched = client.fetch([NEVER_CREATED[0], "Q31", NEVER_CREATED[1]])
    assert list(fetched) == ["Q31"] and fetched["Q31"]["id"] == "Q31"
    assert fetched.missing == NEVER_CREATED


@pytest.mark.parametrize("bad", ["q42", "Q0", "Q042", "P31", "L1", "Q-1", "Q42 ", "", "Q", 42,
                                 None])
def test_invalid_qid_is_rejected_before_any_call(client, wikidata, bad):
    with pytest.raises(errors.InvalidInput):
        client.fetch(["Q31", bad])
    assert wikidata.seen == []


def test_a_bare_string_is_rejected_not_split_into_characters(client, wikidata):
    with pytest.raises(errors.InvalidInput, match="single string"):
        client.fetch("Q31")
    assert wikidata.seen == []


def test_no_ids_means_no_request(client, wikidata):
    assert client.fetch([]) == {}
    assert wikidata.seen == []


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """A real KB built from the 100-entity dump sample (~0.3 s), to label item values."""
    path = tmp_path_factory.mktemp("kb") / "kb"
    build_kb([str(DUMP_SAMPLE)], str(path), workers=1, progress=False)
    return open_kb(path)


def test_refresh_cards_builds_a_card_per_entity(client, wikidata, entities, kb):
    qids = ["Q31", "Q3886", *NEVER_CREATED]
    cards = refresh_cards(qids, client, kb, as_of="2022-02-10")
    assert list(cards) == ["Q31", "Q3886"]
    assert cards.missing == NEVER_CREATED
    labelled_from_kb = 0
    for qid, card in cards.items():
        assert card["qid"] == qid
        assert card["label"] == english_label(entities[qid])
        assert card["wikidata_url"] == f"https://www.wikidata.org/wiki/{qid}"
        assert card["wikipedia_url"].startswith("https://en.wikipedia.org/wiki/")
        assert card["as_of"] == "2022-02-10" and card["kb_version"] == kb.version
        for fact in card["facts"]:
            for value in fact["values"]:
                if value["qid"] in kb:
                    assert value["value"] == english_label(entities[value["qid"]])
                    labelled_from_kb += 1
    assert labelled_from_kb
