"""``factlink relink IN.jsonl --out OUT.jsonl``: re-link stored articles, resumably.

Each input line ``{"id", "text", "published_at"?, "options"?}`` gives exactly one output line with
the same ``id``: the linking result, or ``{"id", "error": {"code", "message"}}``. Lines go to the
Celery workers (``workers.queue.JobQueue``: deterministic job ids, so articles already linked or
in flight are not linked again) or, with ``--local``, to a process pool in this machine.

Resuming is the output file itself: on start it is read back, a torn last line (a crash while
writing) is cut off, and every line already written for the current ``kb_version`` is skipped.
Lines of another KB version, and failures of the run rather than of the line (timeouts, Redis
gone), are dropped (the file is rewritten atomically) and linked again. Input is
streamed and at most ``--window`` chunks are in flight, so memory stays flat for big files.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Iterator

import orjson
from tqdm import tqdm

from linkers import errors, link, open_kb
from linkers.kb.overlay import key_scope
from workers import keys
from workers.jobs import Article, JobStatus
from workers.process import collect_less_for_linking, die_with_parent
from workers.settings import Settings, redact_url

from . import corecli
from .shapes import parse_article

#: the fields of an input line that make the article (anything else, like "title", is ignored)
ARTICLE_FIELDS = ("text", "published_at", "options")
#: failures of the run, not of the line: their error lines are dropped on resume and redone
RETRIED_ON_RESUME = {"timeout", "unknown_job", errors.KBError.code, errors.Unavailable.code,
                     errors.BrokerUnavailable.code, errors.NoWorkers.code}
EXIT_INTERRUPTED = 130
#: after a job of a chunk ends, how long relink lets more ends pile up before reading them
#: (throughput work: a chunk of 64 takes ~0.1-0.2 s through 2 workers)
SETTLE_SECONDS = 0.02


@dataclass(frozen=True)
class InputLine:
    """One non-blank input line: its resume key, and the article or why it cannot be linked."""

    lineno: int
    id: object                              # the input's id; None when the line has none
    article: Article | None = None
    error: errors.FactlinkError | None = None

    @property
    def key(self) -> str:
        return resume_key(self.id, self.lineno)


def resume_key(ident: object, lineno: int | None) -> str:
    """Lines with an id are known by it; a line without one (malformed) by its line number."""
    if ident is None:
        return f"line:{lineno}"
    return "id:" + orjson.dumps(ident).decode()


def read_input(path: str, max_text_bytes: int) -> Iterator[InputLine]:
    """Stream the input file, validating each line the way the HTTP API validates an article."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield InputLine(lineno, None, error=errors.MalformedJSON(f"not JSON ({exc})"))
                continue
            if not isinstance(doc, dict):
                yield InputLine(lineno, None, error=errors.MalformedJSON("not a JSON object"))
                continue
            ident = doc.get("id")
            if ident is None or not isinstance(ident, (str, int)):
                yield InputLine(lineno, None, error=errors.MissingField(
                    "needs an 'id' (string or integer)", field="id"))
                continue
            try:
                article = parse_article({k: doc[k] for k in ARTICLE_FIELDS if k in doc},
                                        max_text_bytes)
            except errors.FactlinkError as exc:
                yield InputLine(lineno, ident, error=exc)
                continue
            yield InputLine(lineno, ident, article=article)


def count_lines(path: str) -> int:
    """Newlines in the file (plus a last unterminated line): the progress bar's total."""
    total, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            total += block.count(b"\n")
            last = block[-1:]
    return total + (last != b"\n")


class OutputFile:
    """The output JSON Lines file, append-only, and the keys of the lines it already holds."""

    def __init__(self, path: str, kb_version: str, rules_scope: str | None = None):
        self.path = path
        self.kb_version = kb_version
        self.rules_scope = rules_scope          # an API key's rules applied (``--api-key``)
        self._scope_field = b"" if rules_scope is None else b'"rules_scope":' + orjson.dumps(rules_scope) + b","
        self.done: set[str] = set()
        self.failed: set[str] = set()       # keys of the error lines among ``done``
        self.dropped_stale = 0
        self._repair()
        self._fh = open(path, "ab")

    def _repair(self) -> None:
        """Keep whole lines of this KB version; cut a torn last line; drop other versions and
        failures worth retrying (a worker timeout, Redis gone) so that this run redoes them."""
        if not os.path.exists(self.path):
            return
        kept, stale = [], False
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    stale = True            # torn by a crash: rewritten, never duplicated
                    break
                try:
                    line = orjson.loads(raw)
                    key = resume_key(line.get("id"), line.get("line"))
                    current = (line.get("kb_version") == self.kb_version
                               and line.get("rules_scope") == self.rules_scope)
                    retry = (line.get("error") or {}).get("code") in RETRIED_ON_RESUME
                except (orjson.JSONDecodeError, AttributeError):
                    current, retry = False, False
                if not current or retry or key in self.done:
                    stale = True
                    self.dropped_stale += not current
                    continue
                self.done.add(key)
                if "error" in line:
                    self.failed.add(key)
                kept.append(raw)
        if stale:
            # rewritten beside and renamed over, so a crash here loses nothing
            temporary = f"{self.path}.tmp"
            with open(temporary, "wb") as out:
                out.writelines(kept)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)

    def write(self, item: InputLine, outcome: bytes | errors.FactlinkError) -> None:
        """``outcome``: a linking result as JSON bytes (written as they are, after the id), or
        the error of this line."""
        if isinstance(outcome, errors.FactlinkError):
            line = orjson.dumps({"id": item.id, "line": item.lineno, "kb_version": self.kb_version,
                                 "error": {"code": outcome.code, "message": outcome.message},
                                 **({"rules_scope": self.rules_scope} if self.rules_scope else {})})
            self.failed.add(item.key)
        else:
            # the bytes of {"id": id, **result} without decoding the result: a result has no "id"
            line = b'{"id":' + orjson.dumps(item.id) + b"," + self._scope_field + outcome[1:]
        # one write per line of whole bytes: a kill leaves at most the last line torn
        self._fh.write(line + b"\n")
        self.done.add(item.key)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


# --- where linking happens -------------------------------------------------------------------

class LocalLinker:
    """A process pool in this machine; each process opens the KB once (``_open_pool_kb``)."""

    def __init__(self, kb_path: str | None, workers: int):
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_open_pool_kb,
                                         initargs=(kb_path,))

    async def link_chunk(self, articles: list[Article]) -> list:
        loop = asyncio.get_running_loop()
        messages = [article.to_message() for article in articles]
        try:
            outcomes = await loop.run_in_executor(self._pool, _link_messages, messages)
        except BrokenProcessPool as exc:     # a pool process died (killed, out of memory)
            raise errors.Unavailable(f"the local linking pool broke: {exc}") from exc
        return [_outcome_from(o) for o in outcomes]

    async def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_POOL_KB = None


def _open_pool_kb(kb_path: str | None) -> None:
    global _POOL_KB
    # a SIGKILLed relink must not leave its pool behind; Ctrl-C is the parent's to handle
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect_less_for_linking()
    _POOL_KB = open_kb(kb_path)


def _link_messages(messages: list[dict]) -> list[bytes | dict]:
    """In a pool process: link each article into its result JSON (bytes cross the process
    boundary for almost nothing, where a result dict cost a pickle here and an unpickle plus a
    re-encoding in the parent, the one process every line goes through); errors come back as
    {"__error__": {...}}."""
    outcomes = []
    for message in messages:
        try:
            article = Article.from_message(message)
            outcomes.append(orjson.dumps(link(article.text, _POOL_KB, article.published_at,
                                              article.options).to_dict()))
        except errors.FactlinkError as exc:
            outcomes.append({"__error__": {"code": exc.code, "message": exc.message}})
        except Exception as exc:  # a linker bug: one line fails, the run goes on
            outcomes.append({"__error__": {"code": "internal",
                                           "message": f"linking failed ({type(exc).__name__})"}})
    return outcomes


def _outcome_from(outcome: bytes | dict):
    if isinstance(outcome, bytes):
        return outcome
    error = errors.FactlinkError(outcome["__error__"]["message"])
    error.code = outcome["__error__"]["code"]
    return error


class CeleryLinker:
    """The Celery workers, through the API's own ``JobQueue`` (same job ids, same claims)."""

    def __init__(self, settings: Settings, kb_version: str, timeout: float,
                 rules_scope: str | None = None):
        # imported here (``redis`` too): --local needs neither Celery nor Redis, and imports
        # are a tenth of a second of each run's start
        import redis.asyncio as aioredis

        from workers.celery_app import create_celery
        from workers.queue import JobQueue
        from workers.reaper import Reaper
        self._settings = settings
        self._timeout = timeout
        self._rules_scope = rules_scope
        self._redis = aioredis.Redis.from_url(settings.redis,
                                              socket_connect_timeout=2, socket_timeout=10)
        self._celery = create_celery(settings)
        self._queue = JobQueue(self._redis, self._celery, settings, kb_version)
        # a relink may run where no API process (whose reaper re-sends the jobs of a worker
        # killed mid-task) is up: it reaps too; a Redis lock keeps reapers from doubling up
        self._reaper = Reaper(self._redis, self._queue, settings)

    async def start(self) -> None:
        """Fail fast (exit 5) when Redis or every worker is away, instead of waiting forever."""
        import redis
        try:
            await self._redis.ping()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            raise errors.BrokerUnavailable(
                f"cannot reach Redis at {redact_url(self._settings.redis)}: {exc}")
        loop = asyncio.get_running_loop()
        replies = await loop.run_in_executor(None, lambda: self._celery.control.ping(timeout=2, limit=1))
        if not replies:
            raise errors.NoWorkers("no factlink worker answers; start `factlink worker` "
                                   "or use --local")
        await self._queue.start()
        await self._reaper.start()

    async def link_chunk(self, articles: list[Article]) -> list:
        import redis
        if self._rules_scope is not None:   # the key's rules on top of the global ones
            articles = [dataclasses.replace(a, rules_scope=self._rules_scope) for a in articles]
        try:
            return await self._link_chunk(articles)
        except (redis.exceptions.RedisError, OSError) as exc:
            raise errors.BrokerUnavailable(f"lost Redis during the run: {exc}") from exc

    async def _queued_before(self, articles: list[Article]) -> set[str]:
        """Job ids of ``articles`` some earlier submission claimed and left queued."""
        job_ids = [self._queue.job_id(article) for article in articles]
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(keys.job(job_id), "status")
            statuses = await pipe.execute()
        return {job_id for job_id, status in zip(job_ids, statuses)
                if status == JobStatus.queued.value.encode()}

    async def _link_chunk(self, articles: list[Article]) -> list:
        queued_before = await self._queued_before(articles)
        while True:
            try:
                submissions = await self._queue.submit(articles)
                break
            except errors.RateLimited as exc:   # the queue is full: others' work first
                await asyncio.sleep(exc.details.get("retry_after", 5))
        # "queued" by an earlier run may mean claimed but never sent (that run was killed in
        # between): send it again rather than wait for the claim to go stale. A job sent twice
        # costs little: the second task usually finds the result stored and stops.
        unsent = [(s.job_id, article) for s, article in zip(submissions, articles)
                  if s.job_id in queued_before and s.status == JobStatus.queued]
        if unsent:
            await self._queue.resend(unsent)
        outcomes = []
        # the chunk's jobs awaited together: read together, then those whose end was announced,
        # a few at a time (a round trip per job, or two, before: ~3.4 reads per job in all)
        statuses = await self._queue.wait_results([s.job_id for s in submissions], self._timeout,
                                                  settle=SETTLE_SECONDS)
        for record, result in statuses:
            if result is not None:
                outcomes.append(result)         # the stored JSON, written as it is
            elif record is None:
                outcomes.append(errors.UnknownJob("the job's record vanished (Redis restarted "
                                                  "without its data?)"))
            elif record.status == JobStatus.failed:
                outcomes.append(record.error())
            else:
                error = errors.FactlinkError(f"the job is still {record.status.value} after "
                                             f"{self._timeout:g} s (rerun to pick it up)")
                error.code = "timeout"
                outcomes.append(error)
        return outcomes

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._reaper.stop()
        with contextlib.suppress(Exception):
            await self._queue.stop()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
        self._celery.close()


# --- the run ---------------------------------------------------------------------------------

@dataclass
class Tally:
    linked: int = 0
    failed: int = 0
    skipped: int = 0
    failed_before: int = 0      # error lines written by an earlier, interrupted run
    duplicates: int = 0


def _report(item: InputLine, error: errors.FactlinkError) -> None:
    tqdm.write(f"factlink: line {item.lineno}: [{error.code}] {error.message}", file=sys.stderr)


async def relink(linker, lines: Iterator[InputLine], out: OutputFile, bar: tqdm,
                 chunk_size: int, window: int) -> Tally:
    """Feed chunks to ``linker`` with at most ``window`` in flight; write each as it ends."""
    tally, seen, chunk = Tally(), set(), []
    in_flight: set[asyncio.Task] = set()

    def write(item: InputLine, outcome) -> None:
        out.write(item, outcome)
        if isinstance(outcome, errors.FactlinkError):
            tally.failed += 1
            _report(item, outcome)
        else:
            tally.linked += 1
        bar.update(1)

    async def drain(until: int) -> None:
        while len(in_flight) > until:
            finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                in_flight.discard(task)
                items, outcomes = task.result()
                for item, outcome in zip(items, outcomes):
                    write(item, outcome)
            out.flush()

    async def run(items: list[InputLine]):
        return items, await linker.link_chunk([item.article for item in items])

    def send() -> None:
        in_flight.add(asyncio.create_task(run(chunk.copy())))
        chunk.clear()

    for item in lines:
        if item.key in seen:
            tally.duplicates += 1
            _report(item, errors.InvalidInput(f"duplicate id {orjson.dumps(item.id).decode()}; "
                                              "linked once, at its first line"))
            bar.total -= 1
            continue
        seen.add(item.key)
        if item.key in out.done:
            tally.skipped += 1
            tally.failed_before += item.key in out.failed
            bar.total -= 1
            continue
        if item.error is not None:
            write(item, item.error)
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            send()
            await drain(window - 1)
    if chunk:
        send()
    await drain(0)
    return tally


class LogProgress:
    """The progress bar where stderr is not a terminal (cron jobs, CI logs): a plain line every
    ``every`` seconds as articles finish, instead of a bar redrawn with carriage returns.
    The same ``total``/``update`` as ``tqdm``, which ``relink`` drives."""

    def __init__(self, total: int, every: float):
        self.total, self.n, self.every = total, 0, every
        self._started = self._written = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._written >= self.every:
            self._written = now
            seconds = now - self._started
            rate = self.n / seconds if seconds > 0 else 0.0
            left = max(self.total - self.n, 0)
            eta = f", ~{left / rate:.0f} s left" if rate > 0 and left else ""
            share = f" ({self.n / self.total:.0%})" if self.total > 0 else ""
            sys.stderr.write(f"factlink: relink: {self.n}/{self.total} docs{share}, "
                             f"{rate:.1f} docs/s{eta}\n")
            sys.stderr.flush()

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        pass


async def _run(args, linker, out: OutputFile, max_text_bytes: int) -> Tally:
    total = count_lines(args.input)
    if args.quiet or sys.stderr.isatty():
        progress = tqdm(total=total, unit="doc", disable=args.quiet, dynamic_ncols=True,
                        smoothing=0.1, file=sys.stderr)
    else:
        progress = LogProgress(total, args.progress_every)
    with progress as bar:
        try:
            if hasattr(linker, "start"):
                await linker.start()
            return await relink(linker, read_input(args.input, max_text_bytes), out, bar,
                                args.chunk_size, args.window)
        finally:
            out.flush()
            await linker.close()


def _service_kb_version(settings: Settings, base_version: str) -> str:
    """The version the workers serve: the KB plus the service's overlay (and newsroom rules)
    in Redis, so lines linked before an overlay change are linked again."""
    import redis

    from workers.kb_delta import effective_kb_version
    client = redis.Redis.from_url(settings.redis, socket_connect_timeout=2, socket_timeout=10)
    try:
        return effective_kb_version(client, base_version)
    except redis.exceptions.RedisError:
        return base_version          # the workers' check reports Redis being down
    finally:
        client.close()


def cmd_relink(args: argparse.Namespace) -> int:
    if args.chunk_size < 1 or args.window < 1 or (args.workers is not None and args.workers < 1):
        return corecli.fail(errors.InvalidInput("--chunk-size, --window and --workers must be >= 1"))
    if not os.path.isfile(args.input):
        return corecli.fail(errors.InvalidInput(f"cannot read {args.input}: no such file"))
    if args.api_key is not None and args.local:
        return corecli.fail(errors.InvalidInput("--api-key applies that key's newsroom rules, kept in "
                                                "the service's Redis: use it without --local"))
    if args.api_key is not None and not args.api_key:
        return corecli.fail(errors.InvalidInput("--api-key needs a key"))
    rules_scope = key_scope(args.api_key) if args.api_key else None
    settings = Settings.from_env()
    kb_path = corecli.kb_path_arg(args) or settings.kb_path
    settings = dataclasses.replace(settings, kb_path=kb_path)
    try:
        # the version the workers serve for the same settings; results carry it too
        kb = open_kb(kb_path)
        kb_version = kb.version
        kb.close()
        if not args.local:
            kb_version = _service_kb_version(settings, kb_version)
    except errors.FactlinkError as exc:
        return corecli.fail(exc)
    try:
        out = OutputFile(args.out, kb_version, rules_scope)
    except OSError as exc:
        return corecli.fail(errors.InvalidInput(f"cannot write {args.out}: {exc.strerror}"))
    if out.dropped_stale:
        sys.stderr.write(f"factlink: {out.dropped_stale} line(s) of {args.out} were linked with "
                         f"another KB; linking them again with {kb_version}\n")
    if args.local:
        linker = LocalLinker(kb_path, args.workers or os.cpu_count() or 1)
    else:
        linker = CeleryLinker(settings, kb_version, args.timeout, rules_scope)
    started = time.perf_counter()
    try:
        tally = asyncio.run(_run(args, linker, out, settings.max_text_bytes))
    except KeyboardInterrupt:
        sys.stderr.write(f"\nfactlink: interrupted; {args.out} holds every line finished so "
                         "far, run the same command again to resume\n")
        return EXIT_INTERRUPTED
    except errors.FactlinkError as exc:
        return corecli.fail(exc)
    except OSError as exc:
        return corecli.fail(errors.FactlinkError(f"cannot write {args.out}: {exc.strerror}"))
    finally:
        out.close()
    seconds = time.perf_counter() - started
    rate = tally.linked / seconds if seconds > 0 else 0.0
    if not args.quiet:
        sys.stderr.write(
            f"factlink: relink {'--local' if args.local else 'workers'}: {tally.linked} linked, "
            f"{tally.failed} failed ({tally.failed_before} earlier), {tally.duplicates} duplicate ids, {tally.skipped} already "
            f"done; {seconds:.1f} s, {rate:.1f} docs/s (kb {kb_version})\n")
    failed = tally.failed + tally.failed_before + tally.duplicates
    return corecli.EXIT_PARTIAL if failed else corecli.EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relink", help="re-link a JSON Lines file of articles (resumable)")
    p.add_argument("input", metavar="IN.jsonl", help="one {id, text, published_at?} per line")
    p.add_argument("--out", required=True, metavar="OUT.jsonl",
                   help="results, one line per input id; resumed if it exists")
    p.add_argument("--local", action="store_true",
                   help="link on a process pool here instead of the Celery workers (no Redis)")
    p.add_argument("--workers", type=int, help="--local pool size (default: cores)")
    p.add_argument("--kb", help="KB directory (default: FACTLINK_KB, else the starter KB)")
    p.add_argument("--chunk-size", type=int, default=64, help="articles per submission")
    p.add_argument("--window", type=int, default=4, help="chunks in flight at once")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for one chunk's jobs (workers path)")
    p.add_argument("--api-key", metavar="KEY",
                   help="apply this API key's own newsroom rules too (workers path); output "
                        "lines name its fingerprint, and resume only lines of the same key")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                   help="when stderr is not a terminal: a progress line this often (default 10)")
    p.set_defaults(func=cmd_relink)
