"""The one settings object: built from environment variables once, at the edge, then passed inward.

Every variable factlink reads is listed in ``ENVIRONMENT`` (the README table is generated from
it), so nothing deeper in the code ever touches ``os.environ``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

KIB = 1024
#: where `factlink api` and `factlink worker` look for Redis when REDIS_URL is unset
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

#: variable -> (Settings field, meaning). Defaults live on the dataclass fields.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "REDIS_URL": ("redis_url", "Redis to use; unset: `factlink serve` starts the bundled one"),
    "REDIS_PASSWORD": ("redis_password",
                       "Redis password (from a secret), used with REDIS_URL; never logged"),
    "FACTLINK_KB": ("kb_path", "knowledge base directory; unset: the starter KB"),
    "FACTLINK_HOST": ("host", "HTTP bind address"),
    "FACTLINK_PORT": ("port", "HTTP port"),
    "FACTLINK_PUBLISHED_ON": ("published_on",
                              "address the port is published on when it differs from the bind "
                              "(compose); public without API keys: a warning at start"),
    "FACTLINK_WORKER_CONCURRENCY": ("worker_concurrency", "worker processes per `factlink worker`"),
    "FACTLINK_MAX_TEXT_BYTES": ("max_text_bytes", "largest article text (UTF-8 bytes); larger: 413"),
    "FACTLINK_MAX_BODY_BYTES": ("max_body_bytes", "largest request body of any kind; larger: 413"),
    "FACTLINK_MAX_BATCH": ("max_batch", "most articles in one POST /v1/jobs"),
    "FACTLINK_MAX_MENTIONS": ("max_mentions",
                              "most mentions linked per text (work budget); more: the result "
                              "is cut there and says `truncated: true`"),
    "FACTLINK_MAX_CACHED_RESULT_BYTES": ("max_cached_result_bytes",
                                         "a result larger than this is kept 1 hour, not "
                                         "FACTLINK_RESULT_TTL"),
    "FACTLINK_RESULT_TTL": ("result_ttl", "seconds a linking result and its job status are kept"),
    "FACTLINK_CARD_TTL": ("card_ttl", "seconds a cached fact card or Wikidata card refresh is kept"),
    "FACTLINK_CARD_MAX_AGE": ("card_max_age", "Cache-Control max-age of fact cards, seconds"),
    "FACTLINK_ANSWER_CACHE_BYTES": ("answer_cache_bytes",
                                    "bytes of annotate results and cards each API process keeps "
                                    "in memory; 0: off"),
    "FACTLINK_CORS_ORIGINS": ("cors_origins", "comma list of allowed browser origins, `*` for any"),
    "FACTLINK_API_KEYS": ("api_keys", "comma list of accepted X-API-Key values; empty: keys off"),
    "FACTLINK_WIKIDATA_API": ("wikidata_api", "Wikidata API endpoint for entity refreshes"),
    "FACTLINK_LOCAL_ID_PREFIX": ("local_id_prefix",
                                 "prefix of newsroom entity ids (`kb add --file`); must end in `:`"),
    "FACTLINK_EVENTSTREAM_URL": ("eventstream_url",
                                 "Wikimedia EventStream (recentchange) that `kb follow` reads"),
    "FACTLINK_FOLLOW_NEW": ("follow_new",
                            "new items `kb follow` adds: `P31:<QID>`, `label`, `sitelink`, `bots`; `off`"),
    "FACTLINK_FOLLOW_RATE": ("follow_rate", "Wikidata API requests/s of `kb follow` (50 ids each)"),
    "FACTLINK_SYNC_TIMEOUT": ("sync_timeout", "seconds POST /v1/annotate waits before answering 202"),
    "FACTLINK_MAX_QUEUE": ("max_queue", "queued tasks above which submissions get 429"),
    "FACTLINK_RATE_LIMIT": ("rate_limit", "requests/s per client (API key or IP); 0: off"),
    "FACTLINK_RATE_BURST": ("rate_burst", "token-bucket size per client; 0: twice the rate"),
    "FACTLINK_TRUSTED_PROXIES": ("trusted_proxies",
                                 "comma list of proxy addresses whose X-Forwarded-For is "
                                 "believed (rate limits per client); unset: none"),
    "FACTLINK_VISIBILITY_TIMEOUT": ("visibility_timeout",
                                    "seconds before a task taken by a lost worker is redelivered"),
    "FACTLINK_DATA_DIR": ("data_dir", "data directory of the bundled Redis"),
    "FACTLINK_REDIS_PORT": ("redis_port", "port of the bundled Redis; 0: a free one"),
    "FACTLINK_REDIS_MAXMEMORY": ("redis_maxmemory",
                                 "memory cap of the bundled Redis (cached results are evicted "
                                 "first; queued jobs never)"),
    "FACTLINK_DEBUG_LINK_DELAY": ("debug_link_delay",
                                  "test seam: seconds each link task sleeps first (kill tests)"),
}


class SettingsError(ValueError):
    """An environment variable has a value of the wrong type; raised at start-up, never later."""


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    redis_password: str | None = field(default=None, repr=False)     # a secret: never logged
    kb_path: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    published_on: str | None = None
    worker_concurrency: int = max(1, os.cpu_count() or 1)
    max_text_bytes: int = 200 * KIB
    max_body_bytes: int = 8 * 1024 * KIB
    max_batch: int = 100
    max_mentions: int = 5000
    max_cached_result_bytes: int = 1024 * KIB
    result_ttl: int = 7 * 24 * 3600
    card_ttl: int = 24 * 3600
    card_max_age: int = 300
    answer_cache_bytes: int = 64 * 1024 * KIB
    cors_origins: tuple[str, ...] = ()
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)   # secrets: never logged
    wikidata_api: str = "https://www.wikidata.org/w/api.php"
    local_id_prefix: str = "local:"
    eventstream_url: str = "https://stream.wikimedia.org/v2/stream/recentchange"
    follow_new: str = "P31:Q5,label,sitelink"
    follow_rate: float = 5.0
    sync_timeout: float = 10.0
    max_queue: int = 10_000
    rate_limit: float = 0.0
    rate_burst: float = 0.0
    trusted_proxies: frozenset[str] = frozenset()
    visibility_timeout: int = 600
    data_dir: str = "./var"
    redis_port: int = 0
    redis_maxmemory: str = "1gb"
    debug_link_delay: float = 0.0

    def __post_init__(self):
        from linkers.errors import InvalidInput
        from linkers.kb.overlay import check_local_prefix
        try:
            check_local_prefix(self.local_id_prefix)
        except InvalidInput as exc:
            raise SettingsError(f"FACTLINK_LOCAL_ID_PREFIX: {exc.message}") from None
        if not 0 <= self.port <= 65535 or not 0 <= self.redis_port <= 65535:
            raise SettingsError("FACTLINK_PORT and FACTLINK_REDIS_PORT must be ports (0-65535)")
        positive = ("worker_concurrency", "max_text_bytes", "max_body_bytes", "max_batch",
                    "max_mentions", "max_cached_result_bytes",
                    "result_ttl", "card_ttl", "visibility_timeout")
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_variable(name)} must be positive")
        for name in ("card_max_age", "answer_cache_bytes", "sync_timeout", "max_queue", "rate_limit", "rate_burst",
                     "debug_link_delay", "follow_rate"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{_variable(name)} must not be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read ``ENVIRONMENT`` from ``environ`` (default ``os.environ``); empty values mean unset."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values = {}
        for variable, (name, _meaning) in ENVIRONMENT.items():
            raw = environ.get(variable, "").strip()
            if raw:
                values[name] = _parse(variable, raw, types[name])
        return cls(**values)

    @property
    def redis(self) -> str:
        """The Redis URL to connect to (``serve`` sets ``redis_url`` to its bundled Redis),
        with ``REDIS_PASSWORD`` in it when the URL carries none (log ``redact_url`` of it)."""
        url = self.redis_url or DEFAULT_REDIS_URL
        if not self.redis_password:
            return url
        parts = urlsplit(url)
        if parts.password is not None:
            return url
        netloc = f"{quote(parts.username or '', safe='')}:{quote(self.redis_password, safe='')}" \
                 f"@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def open_to_the_network(self) -> bool:
        """Reachable from other machines: bound (or published) on a non-loopback address."""
        address = self.published_on or self.host
        return address not in ("127.0.0.1", "localhost", "::1") and \
            not address.startswith("127.")

    @property
    def rate_bucket_size(self) -> float:
        return self.rate_burst or 2 * self.rate_limit

    @property
    def cors_any_origin(self) -> bool:
        return "*" in self.cors_origins

    def worker_env(self) -> dict[str, str]:
        """These settings as environment variables, for a child process (`factlink serve`)."""
        env = {}
        for variable, (name, _meaning) in ENVIRONMENT.items():
            value = getattr(self, name)
            if value is None or value == getattr(Settings, name, None):
                continue
            if isinstance(value, (tuple, frozenset)):
                value = ",".join(sorted(value))
            env[variable] = str(value)
        return env


def redact_url(url: str | None) -> str:
    """``url`` safe for a log line: a password (``redis://:secret@host``) shows as ``***``."""
    if not url:
        return str(url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _variable(name: str) -> str:
    return next(variable for variable, (field, _) in ENVIRONMENT.items() if field == name)


def _parse(variable: str, raw: str, type_name: str):
    try:
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        if type_name.startswith(("tuple", "frozenset")):
            items = [item.strip() for item in raw.split(",") if item.strip()]
            return tuple(items) if type_name.startswith("tuple") else frozenset(items)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a valid {type_name.split('[')[0]}") from None
    return raw


def markdown_table() -> str:
    """The README's table of settings: ``python -m workers.settings``."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for variable, (name, meaning) in ENVIRONMENT.items():
        default = getattr(Settings, name)
        if isinstance(default, (tuple, frozenset)):
            default = ",".join(sorted(default))
        shown = "cores" if name == "worker_concurrency" else \
            ("unset" if default in (None, "") else f"`{default}`")
        rows.append(f"| `{variable}` | {shown} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
