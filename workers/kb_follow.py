"""``factlink kb follow``: keep the service's KB overlay in step with Wikidata's live edits.

Reads Wikimedia's EventStream (``recentchange``, server-sent events; URL configurable) and, for
each Wikidata item edited, deleted or merged that the KB or the overlay knows, re-fetches it
from the Wikidata API and appends the change to the overlay (``workers.kb_delta``). A new item
is added only when it passes ``NewItemFilter`` (default: an instance of human, Q5, with an
English label and a sitelink, not created by a bot).

Position: the id of the last event handled is stored with the changes it caused, in the same
Redis script (``push_changes(..., position=...)``), so a restart (or a dropped connection) resumes
from ``Last-Event-ID`` without missing an event or applying one twice. Events are handled in
batches: at most ``BATCH_IDS`` items or ``BATCH_SECONDS`` of stream, whichever comes first;
fetches are rate-limited (``FACTLINK_FOLLOW_RATE`` requests/s, 50 ids each). Lag (now minus the
time of the last event handled), counts and position live in ``keys.kb_follow(base)``, which
the API's ``/metrics`` reports. A malformed event is counted, logged and skipped.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import orjson
import requests

from linkers import errors
from linkers.kb.dump import compact_entity, is_qid
from linkers.kb.overlay import record_change, tombstone

from . import keys
from .kb_delta import RedisOverlay, push_changes
from .wikidata import DEFAULT_USER_AGENT, WikidataClient

log = logging.getLogger(__name__)

EVENTSTREAM_URL = "https://stream.wikimedia.org/v2/stream/recentchange"
WIKI = "wikidatawiki"
ITEM_NAMESPACE = 0
BATCH_IDS = 50                 # one wbgetentities call
BATCH_SECONDS = 0.5
RECONNECT_SECONDS = (0.5, 1, 2, 5, 10, 30)


@dataclass(frozen=True)
class StreamEvent:
    id: str | None
    data: str


def parse_sse(lines: Iterable[bytes | str]) -> Iterator[StreamEvent]:
    """Server-sent events from a stream of lines (https://html.spec.whatwg.org/#event-stream-
    interpretation): ``data`` lines joined, ``id`` remembered, comments and other fields skipped;
    an event is dispatched at a blank line."""
    data: list[str] = []
    event_id = None
    for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield StreamEvent(event_id, "\n".join(data))
            data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


@dataclass(frozen=True)
class NewItemFilter:
    """Which new items enter the overlay: ``P31:Q5,label,sitelink`` (every condition must hold);
    ``bots`` also admits items a bot created; ``off`` admits none."""

    types: frozenset[str] = frozenset({"Q5"})
    label: bool = True
    sitelink: bool = True
    bots: bool = False
    off: bool = False

    @classmethod
    def parse(cls, spec: str) -> "NewItemFilter":
        spec = spec.strip()
        if spec == "off":
            return cls(off=True)
        types, label, sitelink, bots = set(), False, False, False
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if part.startswith("P31:") and is_qid(part[4:]):
                types.add(part[4:])
            elif part == "label":
                label = True
            elif part == "sitelink":
                sitelink = True
            elif part == "bots":
                bots = True
            else:
                raise errors.InvalidInput(f"new-item filter: {part!r} is not P31:<QID>, label, "
                                          "sitelink, bots or off", field="filter")
        return cls(frozenset(types), label, sitelink, bots)

    def admits(self, record: dict, by_bot: bool) -> bool:
        if self.off or (by_bot and not self.bots):
            return False
        if self.types and self.types.isdisjoint(record["t"]):
            return False
        if self.label and not record["l"]:
            return False
        return not (self.sitelink and not record["sl"])


@dataclass
class _Batch:
    tracked: set[str] = field(default_factory=set)      # edited/deleted items we know
    new: dict[str, bool] = field(default_factory=dict)   # new item -> created by a bot
    position: str | None = None
    event_time: float | None = None
    events: int = 0
    malformed: int = 0
    started: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        return (len(self.tracked) + len(self.new) >= BATCH_IDS
                or (self.events and time.monotonic() - self.started >= BATCH_SECONDS))


class Follower:
    """One ``kb follow`` loop over a ``RedisOverlay`` (see the module docstring)."""

    def __init__(self, overlay: RedisOverlay, client: WikidataClient, stream_url: str = EVENTSTREAM_URL,
                 new_items: NewItemFilter = NewItemFilter(), rate: float = 5.0):
        self.overlay = overlay
        self.redis = overlay.redis
        self.client = client
        self.stream_url = stream_url
        self.new_items = new_items
        self.min_interval = 1.0 / rate if rate > 0 else 0.0
        self._last_fetch = 0.0
        self.state_key = keys.kb_follow(overlay.base_version)

    @property
    def position(self) -> str | None:
        raw = self.redis.hget(self.state_key, "position")
        return raw.decode() if raw else None

    # --- the loop -----------------------------------------------------------------------------
    def run(self, stop: threading.Event, until_position: str | None = None) -> None:
        """Follow until ``stop`` is set (or the event ``until_position`` was handled: tests)."""
        failures = 0
        while not stop.is_set():
            events: queue.Queue = queue.Queue(maxsize=10_000)
            response = None
            try:
                headers = {"Accept": "text/event-stream", "User-Agent": DEFAULT_USER_AGENT}
                position = self.position
                if position:
                    headers["Last-Event-ID"] = position
                response = requests.get(self.stream_url, headers=headers, stream=True, timeout=(10, 60))
                response.raise_for_status()
                reader = threading.Thread(target=_read_events, args=(response, events), daemon=True)
                reader.start()
                failures = 0 if self._consume(events, stop, until_position) else failures
                if until_position is not None and self.position == until_position:
                    return
            except requests.RequestException as exc:
                log.warning("kb follow: stream %s: %s", self.stream_url, exc)
            except errors.Unavailable as exc:
                # the Wikidata API after the client's retries: the batch was not stored, so
                # its events are read again after the reconnect
                log.warning("kb follow: %s", exc.message)
            finally:
                if response is not None:
                    response.close()
            failures += 1
            stop.wait(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS)) - 1])

    def _consume(self, events: queue.Queue, stop: threading.Event, until: str | None) -> bool:
        """Handle events until the connection ends (True if any event came); flush on time."""
        batch, seen_any = _Batch(), False
        while not stop.is_set():
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                event = None
            if event is _DISCONNECTED:
                self.flush(batch)
                return seen_any
            if event is not None:
                seen_any = True
                self.take(event, batch)
            if batch.due():
                self.flush(batch)
                if until is not None and batch.position == until:
                    return True
                batch = _Batch()
        return seen_any

    def take(self, event: StreamEvent, batch: _Batch) -> None:
        """Note what one event asks for (nothing is fetched yet)."""
        batch.events += 1
        batch.position = event.id if event.id is not None else batch.position
        try:
            change = orjson.loads(event.data)
            if not isinstance(change, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            batch.malformed += 1
            log.warning("kb follow: malformed event %s skipped (%s)", event.id, exc)
            return
        if change.get("wiki") != WIKI or change.get("namespace") != ITEM_NAMESPACE:
            return
        qid = change.get("title")
        if not isinstance(qid, str) or not is_qid(qid):
            return
        if isinstance(change.get("timestamp"), (int, float)):
            batch.event_time = float(change["timestamp"])
        if qid in self.overlay.kb or self.overlay.kb.has_overlay_record(qid):
            batch.tracked.add(qid)
        elif change.get("type") == "new":
            batch.new[qid] = bool(change.get("bot"))

    def flush(self, batch: _Batch) -> None:
        """Fetch the batch's items and append their changes with the batch's position."""
        if not batch.events:
            return
        changes = self._changes(batch)
        push_changes(self.redis, self.overlay.base_version, changes, position=batch.position)
        now = time.time()
        stats = {"updated_at": now}
        if batch.event_time is not None:
            stats.update(event_time=batch.event_time, lag_seconds=max(0.0, now - batch.event_time))
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.state_key, mapping=stats)
            pipe.hincrby(self.state_key, "events", batch.events)
            pipe.hincrby(self.state_key, "malformed", batch.malformed)
            pipe.hincrby(self.state_key, "changes", len(changes))
            pipe.execute()
        if changes:
            self.overlay.sync(force=True)        # our own view: what is tracked now

    def _changes(self, batch: _Batch) -> list[dict]:
        wanted = sorted(batch.tracked | set(batch.new))
        if not wanted:
            return []
        fetched = self._fetch(wanted)
        changes: list[dict] = []
        for qid in wanted:
            raw = fetched.get(qid)
            if raw is None:
                if qid in batch.tracked:
                    changes.append(tombstone(qid))        # deleted on Wikidata
                continue
            target = raw.get("id")
            if target and target != qid:                   # merged into another item
                changes.append(tombstone(qid, redirect=target))
            if qid in batch.new:
                compacted = compact_entity(raw)
                if compacted is None or not self.new_items.admits(compacted[0], batch.new[qid]):
                    continue
            try:
                changes.append(record_change(raw))
            except errors.InvalidInput as exc:
                log.info("kb follow: %s not applied: %s", qid, exc.message)
        return changes

    def _fetch(self, qids: list[str]) -> dict:
        """wbgetentities with at most one request per ``min_interval`` (the client retries and
        backs off itself; a lasting failure propagates and the batch is retried later)."""
        found: dict = {}
        for start in range(0, len(qids), BATCH_IDS):
            wait = self._last_fetch + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_fetch = time.monotonic()
            found.update(self.client.fetch(qids[start:start + BATCH_IDS]))
        return found


_DISCONNECTED = object()


def _read_events(response: requests.Response, events: queue.Queue) -> None:
    try:
        # chunk_size None: lines as the chunks arrive (the stream is chunked), not per 512 bytes
        for event in parse_sse(response.iter_lines(chunk_size=None)):
            events.put(event)
    except Exception as exc:             # a dropped connection, a reset: the loop reconnects
        log.info("kb follow: stream interrupted (%s)", exc)
    finally:
        events.put(_DISCONNECTED)
