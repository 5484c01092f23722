"""Fetch current entity data from the Wikidata API and turn it into fact cards.

The KB is a snapshot; this client refreshes single entities between snapshots. It follows
Wikimedia's API etiquette (https://www.mediawiki.org/wiki/API:Etiquette): a descriptive
User-Agent, at most 50 ids per ``wbgetentities`` request, ``maxlag`` so that a lagged
database sheds our load first, and exponential backoff with jitter that honours
``Retry-After``. Configuration (base URL, timeouts) comes in as parameters: the service reads
``FACTLINK_WIKIDATA_API`` at the edge. Scheduling and caching belong to the Celery task that
calls :func:`refresh_cards`.
"""
from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from importlib import metadata

import requests

from linkers import errors
from linkers.facts import card_from_raw_entity
from linkers.kb.dump import QID_PATTERN

log = logging.getLogger(__name__)

WIKIDATA_API = "https://www.wikidata.org/w/api.php"
MAX_IDS_PER_REQUEST = 50          # wbgetentities' limit for ordinary (non-bot) clients
ENTITY_PROPS = "labels|descriptions|aliases|claims|sitelinks"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def _package_version() -> str:
    try:
        return metadata.version("factlink")
    except metadata.PackageNotFoundError:
        return "0+unknown"


DEFAULT_USER_AGENT = (
    f"factlink/{_package_version()} "
    "(+https://github.com/factlink/factlink; contact: https://github.com/factlink/factlink/issues) "
    f"python-requests/{requests.__version__}"
)


def validate_qids(qids: Iterable[str]) -> list[str]:
    """Return the QIDs de-duplicated in first-seen order, or raise InvalidInput on any bad one."""
    if isinstance(qids, (str, bytes)):
        # A bare string is an iterable of characters: almost certainly a caller bug.
        raise errors.InvalidInput("qids must be a list of QIDs, not a single string", field="qids")
    unique: dict[str, None] = {}
    for qid in qids:
        if not isinstance(qid, str) or not QID_PATTERN.match(qid):
            raise errors.InvalidInput(f"not a Wikidata item id: {qid!r} (expected Q<number>)",
                                      field="qids", qid=str(qid))
        unique[qid] = None
    return list(unique)


class Found(dict):
    """``{qid: entity or card}`` for the ids Wikidata has; ``missing`` lists those it lacks.

    A plain dict to callers that only want what was found, with the misses alongside.
    """

    def __init__(self, *args, missing: Iterable[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.missing: list[str] = list(missing)


class WikidataClient:
    """A small, polite ``wbgetentities`` client.

    ``fetch`` makes ``1 + max_retries`` attempts per batch at most. Waits between attempts grow
    as ``backoff * 2**attempt`` with full jitter; a server's ``Retry-After`` is a lower bound.
    A wait longer than ``max_wait`` is not slept through: the client gives up at once with
    ``errors.Unavailable`` whose ``details["retry_after"]`` tells the caller (a Celery task)
    when to try again. ``sleep`` is the clock seam: tests record the waits instead.
    """

    def __init__(self, base_url: str = WIKIDATA_API, user_agent: str = DEFAULT_USER_AGENT,
                 timeout: float = 10, maxlag: int = 5, max_retries: int = 4,
                 session: requests.Session | None = None, *, backoff: float = 1.0,
                 max_wait: float = 60.0, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url
        self.user_agent = user_agent
        self.timeout = timeout
        self.maxlag = maxlag
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "WikidataClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, qids: Iterable[str]) -> Found:
        """Return ``{qid: raw entity JSON}`` for the requested QIDs Wikidata has.

        Ids it does not know (never created, or deleted) are listed in ``.missing`` instead:
        not an error. Invalid QIDs raise ``errors.InvalidInput`` before any request.
        """
        wanted = validate_qids(qids)
        found = Found()
        for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
            batch = wanted[start:start + MAX_IDS_PER_REQUEST]
            _collect(batch, self._get_entities(batch), found)
        return found

    def _get_entities(self, batch: list[str]) -> dict:
        params = {"action": "wbgetentities", "ids": "|".join(batch), "format": "json",
                  "maxlag": str(self.maxlag), "props": ENTITY_PROPS, "languages": "en",
                  "sitefilter": "enwiki"}
        attempt = 0
        while True:
            try:
                return self._request_once(params)
            except _Retryable as failure:
                if attempt >= self.max_retries:
                    raise errors.Unavailable(
                        f"Wikidata API unavailable after {attempt + 1} attempts: {failure}",
                        service="wikidata", url=self.base_url) from None
                wait = max(failure.retry_after or 0.0,
                           random.uniform(0, self.backoff * 2 ** attempt))
                if wait > self.max_wait:
                    raise errors.Unavailable(
                        f"Wikidata API asks to wait {wait:.0f} s ({failure}); try again later",
                        service="wikidata", url=self.base_url, retry_after=wait) from None
                log.warning("wikidata: %s; retrying in %.2f s (retry %d of %d)",
                            failure, wait, attempt + 1, self.max_retries)
                self._sleep(wait)
                attempt += 1

    def _request_once(self, params: dict) -> dict:
        """One request -> the reply's ``entities`` object.

        Transient failures raise ``_Retryable``; the rest (other 4xx, API errors other than
        maxlag, malformed replies) raise ``errors.Unavailable``: repeating cannot fix them.
        """
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        try:
            response = self.session.get(self.base_url, params=params, headers=headers,
                                        timeout=self.timeout)
        except requests.RequestException as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", retry_after)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code", "unknown")
            if code == "maxlag":
                raise _Retryable(f"database lag above {self.maxlag} s (maxlag)", retry_after)
            info = body["error"].get("info", "")
            raise errors.Unavailable(f"Wikidata API error {code!r}: {info}".rstrip(": "),
                                     service="wikidata", api_code=code)
        if response.status_code != 200 or not isinstance(body, dict) \
                or not isinstance(body.get("entities"), dict):
            raise errors.Unavailable(
                f"unexpected reply from the Wikidata API (HTTP {response.status_code})",
                service="wikidata", status=response.status_code, url=self.base_url)
        return body["entities"]


class _Retryable(Exception):
    """A transient failure of one request (network, 429/5xx, maxlag)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after_seconds(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; the HTTP-date form is rare here and ignored."""
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None


def _collect(batch: list[str], entities: dict, found: Found) -> None:
    """File each requested id as found or missing; a redirect answers under its target's id."""
    by_id: dict[str, dict] = {}
    for key, entity in entities.items():
        if not isinstance(entity, dict):
            continue
        redirect = entity.get("redirects") or {}
        for name in (key, entity.get("id"), redirect.get("from")):
            if name:
                by_id.setdefault(name, entity)
    for qid in batch:
        entity = by_id.get(qid)
        if entity is None or "missing" in entity:
            found.missing.append(qid)
        else:
            found[qid] = entity


def refresh_cards(qids: Iterable[str], client: WikidataClient, kb,
                  as_of: str | None = None) -> Found:
    """Fetch ``qids`` and build a fresh fact card for each; ``.missing`` lists ids with no card.

    Item values are labelled from ``kb`` where it knows them, as for KB-built cards.
    """
    fetched = client.fetch(qids)
    cards = Found(missing=fetched.missing)
    for qid, raw in fetched.items():
        card = card_from_raw_entity(raw, kb, as_of)
        if card is None:            # the reply held no usable item
            cards.missing.append(qid)
        else:
            cards[qid] = card
    return cards
