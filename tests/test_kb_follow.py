"""``factlink kb follow`` against a local stand-in of Wikimedia's EventStream (server-sent events,
chunked, honouring ``Last-Event-ID``) replaying a stream written here, and the Wikidata API
stand-in serving real entities: edits, new items (admitted or not by the filter), a deletion, a
merge (redirect), other wikis, a malformed event and a dropped connection."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
import redis as redis_client
from service_fixtures import REPO, ApiServer, WorkerProcess, factlink_env, settings_for, wait_for
from test_wikidata_refresh import entities, read_entities, running_server, wikidata  # noqa: F401
from test_wikidata_refresh import pytestmark as needs_samples

from linkers import link, open_kb
from workers import keys
from workers.embedded_redis import EmbeddedRedis
from workers.kb_delta import RedisOverlay
from workers.kb_follow import Follower, NewItemFilter, parse_sse
from workers.wikidata import WikidataClient

pytestmark = [needs_samples, pytest.mark.integration]

HELSINKI, OSLO, LISBON, BELGIUM = "Q1757", "Q585", "Q597", "Q31"       # in the starter KB
BARRETT, LAKE, BOT_STUB = "Q7608665", "Q22566039", "Q24428256"        # not: new items


def event(title: str, kind: str = "edit", wiki: str = "wikidatawiki", namespace: int = 0,
          bot: bool = False, **extra) -> str:
    return json.dumps({"wiki": wiki, "namespace": namespace, "title": title, "type": kind,
                       "bot": bot, "timestamp": time.time(), **extra})


STREAM = [
    event(HELSINKI),                                   # 1 edit: the label changes
    event("File:Helsinki.jpg", wiki="commonswiki", namespace=6),   # 2 another wiki
    event(BARRETT, "new"),                             # 3 a new human with a sitelink: added
    event(LAKE, "new"),                                # 4 a new lake: not admitted
    "{this is not json",                               # 5 malformed
    event(BOT_STUB, "new", bot=True),                  # 6 created by a bot: not admitted
    event(OSLO, "log", log_type="delete", log_action="delete"),    # 7 deleted
    event(LISBON),                                     # 8 merged into Helsinki: a redirect
    event("Q99999999999"),                             # 9 an item nobody tracks
    event(BELGIUM),                                    # 10 an edit
]
#: when the events above were stamped (at import: in a full run, minutes before the test)
STREAM_STAMPED = time.time()
#: the overlay changes the stream makes: (id, record kept?) each exactly once
EXPECTED = Counter([(HELSINKI, True), (BARRETT, True), (OSLO, False), (LISBON, False),
                    (HELSINKI, True), (BELGIUM, True)])


class FakeEventStream(ThreadingHTTPServer):
    """``GET /v2/stream/recentchange``: events after ``Last-Event-ID``, one every ``delay`` s,
    then heartbeat comments; the first connection drops after event ``drop_after``."""

    daemon_threads = True

    def __init__(self, events: list[str], delay: float = 0.02, drop_after: int | None = 4):
        super().__init__(("127.0.0.1", 0), _StreamHandler)
        self.events, self.delay, self.drop_after = events, delay, drop_after
        self.connects: list[str | None] = []
        self.closing = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v2/stream/recentchange"

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _StreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeEventStream

    def do_GET(self) -> None:
        last = self.headers.get("Last-Event-ID")
        self.server.connects.append(last)
        first_connect = len(self.server.connects) == 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        start = int(last) if last else 0
        try:
            self._chunk(b":ok\n\n")
            for number in range(start + 1, len(self.server.events) + 1):
                time.sleep(self.server.delay)
                self._chunk(f"event: message\nid: {number}\ndata: {self.server.events[number - 1]}\n\n".encode())
                if first_connect and number == self.server.drop_after:
                    self.connection.shutdown(2)          # a dropped connection, mid-stream
                    return
            while not self.server.closing.wait(0.2):
                self._chunk(b":heartbeat\n\n")
            self._chunk(b"")
        except OSError:
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def world(wikidata):
    """The Wikidata stand-in as the stream describes it: Helsinki renamed, Oslo deleted,
    Lisbon merged into Helsinki."""
    renamed = copy.deepcopy(wikidata.entities[HELSINKI])
    renamed["labels"]["en"]["value"] = "Helsingfors"
    saved = {q: wikidata.entities.get(q) for q in (HELSINKI, OSLO, LISBON)}
    wikidata.entities[HELSINKI] = renamed
    del wikidata.entities[OSLO]
    wikidata.entities[LISBON] = {**renamed, "redirects": {"from": LISBON, "to": HELSINKI}}
    yield wikidata
    for qid, entity in saved.items():
        wikidata.entities[qid] = entity


@pytest.fixture
def kb_path(tmp_path):
    kb = open_kb(cache_dir=tmp_path)
    kb.close()
    return str(kb.path)


@pytest.fixture
def redis_url(start_redis):
    return start_redis().url


def changes(store, base: str) -> list[tuple[str, bool]]:
    return [(c["id"], c["record"] is not None)
            for c in map(orjson.loads, store.lrange(keys.kb_changes(base), 0, -1))]


def test_sse_parsing_follows_the_spec():
    lines = [":comment", "event: message", "id: 7", "data: {\"a\":", "data: 1}", "", "",
             "id: 8", "retry: 10", "data:x", ""]
    assert [(e.id, e.data) for e in parse_sse(lines)] == [("7", '{"a":\n1}'), ("8", "x")]


def test_the_new_item_filter():
    human = {"t": ["Q5"], "l": "Ada", "sl": 1}
    default = NewItemFilter.parse("P31:Q5,label,sitelink")
    assert default.admits(human, by_bot=False)
    assert not default.admits(human, by_bot=True)
    assert not default.admits({**human, "sl": 0}, by_bot=False)
    assert not default.admits({**human, "t": ["Q515"]}, by_bot=False)
    assert not NewItemFilter.parse("off").admits(human, by_bot=False)
    assert NewItemFilter.parse("label,bots").admits({**human, "t": []}, by_bot=True)
    with pytest.raises(Exception, match="not P31"):
        NewItemFilter.parse("P31=Q5")


def test_follow_applies_the_stream_once_through_a_dropped_connection(world, kb_path, redis_url):
    stream = FakeEventStream(STREAM)
    threading.Thread(target=stream.serve_forever, args=(0.05,), daemon=True).start()
    store = redis_client.Redis.from_url(redis_url)
    overlay = RedisOverlay(store, open_kb(kb_path))
    follower = Follower(overlay, WikidataClient(world.url, backoff=0.01), stream.url,
                        NewItemFilter.parse("P31:Q5,label,sitelink"), rate=50)
    try:
        follower.run(threading.Event(), until_position=str(len(STREAM)))
    finally:
        stream.close()
    assert Counter(changes(store, overlay.base_version)) == EXPECTED
    assert stream.connects[0] is None and len(stream.connects) == 2
    assert int(stream.connects[1]) <= 4                   # resumed where it had stored
    state = {k.decode(): v.decode() for k, v in store.hgetall(keys.kb_follow(overlay.base_version)).items()}
    assert state["position"] == str(len(STREAM)) and state["malformed"] == "1"
    # the lag is the events' age, however long the suite ran before this test
    assert abs(float(state["lag_seconds"]) - (time.time() - STREAM_STAMPED)) < 60

    kb = RedisOverlay(store, open_kb(kb_path))
    kb.load()
    mentions = {m.text: m.qid for m in link("Helsingfors and Oslo welcomed Stephen Barrett.", kb.kb).mentions}
    assert mentions["Helsingfors"] == HELSINKI and mentions["Stephen Barrett"] == BARRETT
    assert mentions.get("Oslo") != OSLO and OSLO not in kb.kb
    assert LAKE not in kb.kb and BOT_STUB not in kb.kb
    assert kb.kb.redirect_of(LISBON) == HELSINKI


def test_a_killed_follow_resumes_without_missing_or_repeating_an_event(world, kb_path, redis_url):
    stream = FakeEventStream(STREAM, delay=0.3, drop_after=None)
    threading.Thread(target=stream.serve_forever, args=(0.05,), daemon=True).start()
    store = redis_client.Redis.from_url(redis_url)
    base = open_kb(kb_path).version
    env = factlink_env(REDIS_URL=redis_url, FACTLINK_KB=kb_path, FACTLINK_WIKIDATA_API=world.url,
                       FACTLINK_EVENTSTREAM_URL=stream.url, FACTLINK_FOLLOW_RATE="50")

    def position() -> int:
        raw = store.hget(keys.kb_follow(base), "position")
        return int(raw) if raw else 0

    def follow() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "service.cli", "kb", "follow"], env=env,
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    try:
        first = follow()
        wait_for(lambda: 3 <= position() < len(STREAM), 30, what="follow to handle a few events")
        os.killpg(first.pid, signal.SIGKILL)              # no clean shutdown at all
        first.wait()
        stopped_at = position()
        second = follow()
        try:
            wait_for(lambda: position() == len(STREAM), 30, what="follow to reach the end")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(15)
    finally:
        stream.close()
    assert stopped_at < len(STREAM)
    assert stream.connects[-1] == str(stopped_at)        # resumed exactly where it stopped
    assert Counter(changes(store, base)) == EXPECTED


@pytest.fixture
def service(tmp_path_factory, running_server, kb_path):
    env = {"FACTLINK_KB": kb_path, "FACTLINK_WIKIDATA_API": running_server.url}
    with EmbeddedRedis(tmp_path_factory.mktemp("follow-redis")) as server:
        worker = WorkerProcess(server.url, **env).wait_ready()
        api = ApiServer(settings_for(REDIS_URL=server.url, **env)).start()
        try:
            yield {"redis": server.url, "api": api, "kb": kb_path, "wikidata": running_server.url}
        finally:
            api.stop()
            worker.stop()


def test_a_label_change_in_the_stream_shows_in_the_next_annotate_and_card(world, service, http):
    api = service["api"]
    before = http.post(f"{api.url}/v1/annotate", json={"text": "Helsinki hosted the summit."}).json()
    assert {m["text"]: m["qid"] for m in before["mentions"]}["Helsinki"] == HELSINKI
    assert http.get(f"{api.url}/v1/entities/{HELSINKI}").json()["label"] == "Helsinki"
    stream = FakeEventStream(STREAM[:1], drop_after=None)
    threading.Thread(target=stream.serve_forever, args=(0.05,), daemon=True).start()
    store = redis_client.Redis.from_url(service["redis"])
    overlay = RedisOverlay(store, open_kb(service["kb"]))
    follower = Follower(overlay, WikidataClient(service["wikidata"]), stream.url, rate=50)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        def renamed():
            result = http.post(f"{api.url}/v1/annotate", json={"text": "Helsingfors hosted the summit."}).json()
            return {m["text"]: m["qid"] for m in result["mentions"]}.get("Helsingfors") == HELSINKI
        wait_for(renamed, 10, interval=0.1, what="the renamed city to be linked")
        assert time.monotonic() - started < 5
        assert http.get(f"{api.url}/v1/entities/{HELSINKI}").json()["label"] == "Helsingfors"
        metrics = http.get(f"{api.url}/metrics").text
        assert "factlink_kb_follow_lag_seconds" in metrics and 'factlink_kb_follow_events{outcome="handled"} 1.0' in metrics
    finally:
        stop.set()
        thread.join(10)
        stream.close()
