"""``factlink kb add``: entities into the KB overlay, from the Wikidata API or a newsroom file.

    factlink kb add Q133274 Q7747 [--kb DIR]         fetch from FACTLINK_WIKIDATA_API
    factlink kb add --file custom.jsonl [--kb DIR]   dump-layout entities, ids "local:..."
    factlink kb add ... --service                    into the running service's overlay (Redis)
    factlink kb follow                               Wikidata's live edits into the service's overlay

Without ``--service`` the overlay is the KB directory's (``<kb>/overlay/``), which every CLI
command (``link``, ``eval``, ``relink --local``) applies on open. With it, the changes go to
Redis, where every API and worker process picks them up within a second. All or nothing: an
unknown QID or a bad entity in the file adds nothing and exits 2.
"""
from __future__ import annotations

import argparse
import sys

import orjson

from linkers import errors, open_kb
from linkers.kb import kb_dir
from linkers.kb.dump import entity_json, open_dump
from linkers.kb.overlay import OverlayKB, append_changes, changes_path, save_snapshot
from workers.settings import Settings

from .corecli import EXIT_OK, fail, kb_path_arg


def read_entity_file(path: str) -> list[dict]:
    """Entities of a dump-layout file (official ``[``/``,`` layout or JSON Lines, .gz/.bz2)."""
    entities = []
    try:
        with open_dump(path) as fh:
            for number, line in enumerate(fh, 1):
                body = entity_json(line)
                if body is None:
                    continue
                try:
                    entities.append(orjson.loads(body))
                except orjson.JSONDecodeError as exc:
                    raise errors.InvalidInput(f"{path}:{number}: not JSON ({exc})") from None
    except OSError as exc:
        raise errors.InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return entities


def cmd_kb_add(args) -> int:
    # imported here: it brings requests and the Wikidata client, which every other command
    # (relink among them, started once per run) would import for nothing
    from workers.kb_delta import gather_changes
    try:
        settings = Settings.from_env()
        if not args.qids and not args.file:
            raise errors.InvalidInput("name QIDs to fetch, or --file with entities")
        entities = read_entity_file(args.file) if args.file else []
        changes = gather_changes(settings.wikidata_api, settings.local_id_prefix, args.qids,
                                 entities, args.wikidata_ids)
        if args.service:
            out = _add_to_service(settings, kb_path_arg(args) or settings.kb_path, changes)
        else:
            out = _add_to_directory(kb_path_arg(args), changes)
    except errors.FactlinkError as exc:
        return fail(exc)
    out["added"] = sorted({c["id"] for c in changes if c.get("record") is not None})
    sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
    return EXIT_OK


def _add_to_directory(path: str | None, changes: list[dict]) -> dict:
    directory = kb_dir(path)
    generation = append_changes(changes_path(directory), changes)
    kb = open_kb(directory)
    if isinstance(kb, OverlayKB):
        save_snapshot(kb, directory)       # the next open decodes it instead of re-deriving
    out = {"kb_version": kb.version, "generation": generation, "overlay": str(changes_path(directory))}
    kb.close()
    return out


def _add_to_service(settings: Settings, path: str | None, changes: list[dict]) -> dict:
    import redis

    from workers.kb_delta import RedisOverlay
    client = redis.Redis.from_url(settings.redis, socket_connect_timeout=2, socket_timeout=30)
    try:
        overlay = RedisOverlay(client, open_kb(path))
        overlay.load()
        generation = overlay.append(changes)
        return {"kb_version": overlay.version, "generation": generation, "overlay": settings.redis}
    except redis.exceptions.RedisError as exc:
        raise errors.BrokerUnavailable(f"Redis at {settings.redis}: {exc}") from None
    finally:
        client.close()


def cmd_kb_follow(args) -> int:
    """Follow Wikidata's edits into the service's overlay until interrupted (SIGINT/SIGTERM)."""
    import signal
    import threading

    import redis

    from workers.kb_delta import RedisOverlay
    from workers.kb_follow import Follower, NewItemFilter
    from workers.wikidata import WikidataClient
    try:
        settings = Settings.from_env()
        new_items = NewItemFilter.parse(args.new_items or settings.follow_new)
        client = redis.Redis.from_url(settings.redis, socket_connect_timeout=2, socket_timeout=30)
        overlay = RedisOverlay(client, open_kb(kb_path_arg(args) or settings.kb_path))
        overlay.load()
    except redis.exceptions.RedisError as exc:
        return fail(errors.BrokerUnavailable(f"Redis at {settings.redis}: {exc}"))
    except errors.FactlinkError as exc:
        return fail(exc)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    follower = Follower(overlay, WikidataClient(settings.wikidata_api),
                        args.stream or settings.eventstream_url, new_items, settings.follow_rate)
    sys.stderr.write(f"factlink kb follow: {follower.stream_url} -> overlay of {overlay.base_version} "
                     f"(generation {overlay.generation}, position {follower.position})\n")
    try:
        follower.run(stop)
    except redis.exceptions.RedisError as exc:
        return fail(errors.BrokerUnavailable(f"Redis at {settings.redis}: {exc}"))
    return EXIT_OK


def add_parsers(kb_sub: argparse._SubParsersAction) -> None:
    add = kb_sub.add_parser("add", help="add or update entities in the KB overlay")
    add.add_argument("qids", nargs="*", help="Wikidata QIDs to fetch (FACTLINK_WIKIDATA_API)")
    add.add_argument("--file", help="entities in Wikidata dump layout (ids: FACTLINK_LOCAL_ID_PREFIX"
                                    " + name, e.g. local:acme-corp)")
    add.add_argument("--wikidata-ids", action="store_true",
                     help="the file holds Wikidata's own entities: accept QIDs in it")
    add.add_argument("--kb", help="KB directory (default: FACTLINK_KB, else the starter KB)")
    add.add_argument("--service", action="store_true",
                     help="into the service's overlay in Redis (REDIS_URL), not the KB directory")
    add.set_defaults(func=cmd_kb_add)

    follow = kb_sub.add_parser("follow", help="follow Wikidata's live edits into the service's overlay")
    follow.add_argument("--kb", help="KB directory (default: FACTLINK_KB, else the starter KB)")
    follow.add_argument("--stream", help="EventStream URL (default: FACTLINK_EVENTSTREAM_URL)")
    follow.add_argument("--new-items", help="filter for new items (default: FACTLINK_FOLLOW_NEW)")
    follow.set_defaults(func=cmd_kb_follow)
