"""``factlink``: the one command line entry point (``[project.scripts]`` -> ``service.cli:main``).

    factlink serve [--host H] [--port P]   Redis (bundled unless REDIS_URL), workers and the API
    factlink api [--host H] [--port P]     the HTTP API only
    factlink worker [--concurrency N]      Celery workers only (scale out: many, one Redis)
    factlink kb build | link | eval        the linking core's commands (service.corecli)
    factlink kb add                        entities into the KB overlay (service.kbcli)
    factlink relink                        re-link stored articles (service.relink, when present)
    factlink --version                     versions, and whether the linking core runs compiled

Settings come from the environment (``workers.settings.ENVIRONMENT``), read here once; flags
override them.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import sys

from linkers import LINKER_VERSION, compiled, errors
from workers.settings import Settings, SettingsError, redact_url

from . import corecli, kbcli

log = logging.getLogger("factlink")


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment first, then the flags given on the command line."""
    settings = Settings.from_env()
    overrides = {name: getattr(args, name) for name in ("host", "port", "worker_concurrency")
                 if getattr(args, name, None) is not None}
    return dataclasses.replace(settings, **overrides)


def open_kb_before_the_loop(settings: Settings) -> None:
    """Open the KB once in the main thread, before any event loop or child process starts:
    a bad FACTLINK_KB fails now (exit 3), and the first start builds the starter KB here, with
    its log lines, instead of in the API's executor thread or in N worker processes at once."""
    from linkers import open_kb
    kb = open_kb(settings.kb_path)
    log.info("KB %s (%d entities), %s, linker: %s", kb.version, len(kb), compiled.interpreter(),
             compiled.describe())
    kb.close()

def warn_if_open(settings: Settings) -> None:
    """Anyone who can reach the port can use the API when keys are off: say so at start."""
    if settings.open_to_the_network and not settings.accepted_keys:
        log.warning("the API is reachable on %s without API keys (FACTLINK_API_KEYS is empty): "
                    "anyone who reaches the port can use it", settings.published_on or
                    settings.host)


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve
    settings = settings_from(args)
    warn_if_open(settings)
    open_kb_before_the_loop(settings)
    return serve(settings)


def cmd_api(args: argparse.Namespace) -> int:
    from .app import run_app
    settings = settings_from(args)
    warn_if_open(settings)
    open_kb_before_the_loop(settings)
    log.info("factlink API on http://%s:%d (Redis %s)", settings.host, settings.port,
             redact_url(settings.redis))
    run_app(settings)
    return corecli.EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from linkers import open_kb
    from workers.celery_app import create_celery
    settings = settings_from(args)
    if args.solo_child:          # one of the supervisor's workers: it checked the KB already
        return run_celery_worker(settings, "solo", 1, args.name, args.loglevel)
    # open the KB once here so a bad FACTLINK_KB fails now, not in every worker process
    kb = open_kb(settings.kb_path)
    log.info("factlink worker: KB %s (%d entities), Redis %s, %s, linker: %s, %d %s", kb.version,
             len(kb), redact_url(settings.redis), compiled.interpreter(), compiled.describe(),
             settings.worker_concurrency, "solo worker processes, supervised"
             if args.pool == "solo" else "pool processes (prefork)")
    kb.close()
    if args.pool == "prefork":
        return run_celery_worker(settings, "prefork", settings.worker_concurrency, args.name,
                                 args.loglevel)
    from workers.supervisor import SoloWorkers, node_names
    names = node_names(args.name, settings.worker_concurrency)
    return SoloWorkers(settings, create_celery(settings), names, lambda name: [
        sys.executable, "-m", "service.cli", "worker", "--solo-child", "--name", name,
        "--loglevel", args.loglevel]).run()


def run_celery_worker(settings: Settings, pool: str, concurrency: int, name: str | None,
                      loglevel: str) -> int:
    """A Celery worker in this process (``--pool solo``: it runs the tasks itself)."""
    from workers import consumer, keys
    from workers.celery_app import create_celery
    app = create_celery(settings)
    if pool == "solo":
        # link tasks are taken by the process's own consumer; Celery gets what it hands over
        consumer.attach(app, settings)
        queues = keys.CELERY_QUEUE
    else:
        queues = f"{keys.QUEUE},{keys.CELERY_QUEUE}"
    argv = ["worker", "--pool", pool, "--concurrency", str(concurrency),
            "--queues", queues, "--loglevel", loglevel,
            # no peer chatter: startup is not delayed by mingle, and nothing here needs gossip
            "--without-mingle", "--without-gossip", "--without-heartbeat"]
    if name:
        argv += ["--hostname", name]
    app.worker_main(argv)
    return corecli.EXIT_OK


def _add_bind_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: FACTLINK_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: FACTLINK_PORT or 8080)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factlink", description=(
        "Entity linking to Wikidata with time-aware fact cards, for news text."),
        formatter_class=argparse.RawDescriptionHelpFormatter)     # --version on one line
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="Redis, workers and the HTTP API together")
    _add_bind_flags(serve)
    serve.add_argument("--concurrency", dest="worker_concurrency", type=int,
                       help="worker processes (default: FACTLINK_WORKER_CONCURRENCY or cores)")
    serve.set_defaults(func=cmd_serve)

    api = sub.add_parser("api", help="the HTTP API only (needs REDIS_URL and workers elsewhere)")
    _add_bind_flags(api)
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="a Celery worker only (needs REDIS_URL)")
    worker.add_argument("--concurrency", dest="worker_concurrency", type=int,
                        help="worker processes (default: FACTLINK_WORKER_CONCURRENCY or cores)")
    worker.add_argument("--name", help="Celery node name (default: celery@<hostname>); with "
                        "--pool solo and N > 1 processes, <name>-1 .. <name>-N")
    worker.add_argument("--pool", choices=("solo", "prefork"), default="solo",
                        help="solo (default): N single-process workers under a supervisor, "
                        "each runs its tasks itself; prefork: one Celery worker with N pool "
                        "processes")
    worker.add_argument("--loglevel", default="INFO")
    # one of the supervisor's solo workers (workers.supervisor): Celery in this process
    worker.add_argument("--solo-child", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    kbcli.add_parsers(corecli.add_parsers(sub))
    _add_optional_parser(sub, "service.relink")
    _add_optional_parser(sub, "service.bench_cli")
    return parser


def version() -> str:
    """``factlink 0.1.0, factlink-linker/0.13, CPython 3.11.2 (/usr/bin/python3.11, libpython
    static), linker: compiled (15 modules)``: the interpreter build (the same code links
    1.3-1.6x faster on one build than on another: ``linkers.compiled.interpreter``), and whether
    setup.py's Cython build runs (linkers/compiled.py) or pure Python, and why."""
    from importlib.metadata import PackageNotFoundError, version as package_version
    try:
        installed = package_version("factlink")
    except PackageNotFoundError:
        installed = "(not installed)"
    return (f"factlink {installed}, {LINKER_VERSION}, {compiled.interpreter()}, "
            f"linker: {compiled.describe()}")


def _add_optional_parser(sub, module_name: str) -> None:
    """Commands that live in their own module register themselves (``add_parser(sub)``)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return
    module.add_parser(sub)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or corecli.EXIT_OK
    except SettingsError as exc:
        sys.stderr.write(f"factlink: {exc}\n")
        return corecli.EXIT_USAGE
    except errors.FactlinkError as exc:
        return corecli.fail(exc)


if __name__ == "__main__":
    sys.exit(main())
