"""CLI commands over the linking core: ``factlink kb build``, ``factlink link``, ``factlink eval``.

Exit codes (shared by every factlink command): 0 success, 1 some input lines failed (each
reported), 2 bad usage or input, 3 KB cannot be opened or built, 4 malformed dump (--strict)
or a truncated/corrupt compressed one, 5 a service dependency is unavailable.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Iterator

import orjson

from linkers import LinkOptions, build_kb, errors, link, open_kb
from linkers.evaluate import (ERROR_KINDS, classify_errors, coverage, expected_calibration_error, judge_document,
                               score_corpus)

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_KB, EXIT_DUMP, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5


def exit_code_for(exc: errors.FactlinkError) -> int:
    if isinstance(exc, errors.DumpError):
        return EXIT_DUMP
    if isinstance(exc, errors.KBError):
        return EXIT_KB
    if isinstance(exc, errors.Unavailable):
        return EXIT_UNAVAILABLE
    return EXIT_USAGE


def fail(exc: errors.FactlinkError) -> int:
    sys.stderr.write(f"factlink: error [{exc.code}]: {exc.message}\n")
    return exit_code_for(exc)


def kb_path_arg(args) -> str | None:
    """--kb, else FACTLINK_KB, else None (the starter KB)."""
    return getattr(args, "kb", None) or os.environ.get("FACTLINK_KB") or None


def _write_json(obj) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")


# --- kb build ------------------------------------------------------------------------------
def cmd_kb_build(args) -> int:
    try:
        report = build_kb(args.sources, args.out, popularity=args.popularity,
                          languages=tuple(args.languages.split(",")), strict=args.strict,
                          workers=args.workers, progress=not args.quiet and sys.stderr.isatty())
    except errors.FactlinkError as exc:
        return fail(exc)
    t0 = time.perf_counter()
    kb = open_kb(args.out)
    open_ms = (time.perf_counter() - t0) * 1000
    summary = {"kb_version": report.kb_version, "out": args.out, "entities": report.entities,
               "alias_keys": report.alias_keys, "candidates": report.candidates, "edges": report.edges,
               "malformed_lines": report.malformed, "malformed_examples": report.malformed_examples,
               "duplicates": report.duplicates, "seconds": round(report.seconds, 2),
               "entities_per_second": round(report.entities_per_second, 1),
               "workers": args.workers or os.cpu_count(), "open_ms": round(open_ms, 2), "size_entities": len(kb)}
    _write_json(summary)
    for line in report.malformed_examples:
        sys.stderr.write(f"factlink: malformed dump {line}\n")
    return EXIT_OK


# --- link ------------------------------------------------------------------------------------
def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def input_format(path: str, data: bytes, requested: str = "auto") -> str:
    """``text`` or ``jsonl``: as requested, else by the file name, else from the whole input.

    Detection reads every line, not the first: JSON Lines when at least half of the non-blank
    lines are (or try to be) JSON objects, so a JSONL file whose first line is broken or a
    header is still read line by line, with that line reported; prose is almost never that.
    """
    if requested != "auto":
        return requested
    if path.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    lines = [line for line in (raw.strip() for raw in data.splitlines()) if line]
    objects = sum(line.startswith(b"{") for line in lines)
    return "jsonl" if lines and 2 * objects >= len(lines) else "text"


def _jsonl_docs(data: bytes) -> Iterator[tuple[int, dict | errors.FactlinkError]]:
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield lineno, errors.MalformedJSON(f"line {lineno}: not JSON ({exc})", line=lineno)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            err = errors.MissingField(f"line {lineno}: needs a string 'text'", line=lineno)
            if isinstance(doc, dict) and "id" in doc:
                err.details["id"] = doc["id"]
            yield lineno, err
            continue
        yield lineno, doc


def cmd_link(args) -> int:
    try:
        options = LinkOptions.from_dict({"threshold": args.threshold, "top_k": args.top_k,
                                         "fact_cards": not args.no_cards, "relations": not args.no_cards})
        data = _read_input(args.file)
    except OSError as exc:
        return fail(errors.InvalidInput(f"cannot read {args.file}: {exc.strerror}"))
    except errors.FactlinkError as exc:
        return fail(exc)
    try:
        kb = open_kb(kb_path_arg(args))
    except errors.FactlinkError as exc:
        return fail(exc)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return fail(errors.InvalidEncoding(f"input is not UTF-8 (byte {exc.start})"))
    if input_format(args.file, data, args.format) == "text":
        objects = sum(line.lstrip().startswith(b"{") for line in data.splitlines())
        if objects and args.format == "auto":
            sys.stderr.write(f"factlink: read as one plain-text document, although {objects} "
                             "line(s) look like JSON objects; --format jsonl links each line\n")
        try:
            _write_json(link(text, kb, args.published_at, options).to_dict())
        except errors.FactlinkError as exc:
            return fail(exc)
        return EXIT_OK
    failed = 0
    for lineno, doc in _jsonl_docs(data):
        try:
            if isinstance(doc, errors.FactlinkError):
                raise doc
            result = link(doc["text"], kb, doc.get("published_at") or args.published_at, options).to_dict()
            _write_json({"id": doc.get("id", lineno), **result})
        except errors.FactlinkError as exc:
            failed += 1
            ident = doc.get("id", lineno) if isinstance(doc, dict) else doc.details.get("id", lineno)
            _write_json({"id": ident, "line": lineno, "error": exc.to_dict()})
            sys.stderr.write(f"factlink: line {lineno}: [{exc.code}] {exc.message}\n")
    return EXIT_PARTIAL if failed else EXIT_OK


# --- eval ------------------------------------------------------------------------------------
def _load_jsonl(path: str) -> list[dict]:
    with open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def evaluate_file(gold_path: str, kb, pred_path: str | None = None, options: LinkOptions | None = None,
                  errors_too: bool = False, given_spans: bool = False) -> dict:
    """Scores of one benchmark file: end-to-end, in-KB, KB coverage, ms/doc, and (when linking)
    the calibration of the reported confidences; with ``errors_too``, the in-KB misses and
    false links by kind; with ``given_spans``, the gold spans are disambiguated instead of
    spotted (GERBIL's D2KB task: what a NIF request with nif:Phrase mentions gets)."""
    gold = _load_jsonl(gold_path)
    times: list[float] = []
    if pred_path:
        preds = {str(p["id"]): p["mentions"] for p in _load_jsonl(pred_path)}
    else:
        preds = {}
        options = options or LinkOptions()
        # every spotted mention with its best candidate: the NIL ones tell "below threshold"
        # apart from "wrong entity" in --errors; scoring ignores them (qid null)
        options = LinkOptions.from_dict({**options.to_dict(), "include_nil": True, "top_k": 1})
        for doc in gold:
            t0 = time.perf_counter()
            spans = [(m["start"], m["end"]) for m in doc["mentions"]] if given_spans else None
            result = link(doc["text"], kb, doc.get("published_at"), options, mention_spans=spans)
            times.append((time.perf_counter() - t0) * 1000)
            preds[str(doc["id"])] = [{"start": m.start, "end": m.end, "qid": m.qid, "confidence": m.confidence,
                                      "best": m.candidates[0].qid if m.candidates else None}
                                     for m in result.mentions]
    in_kb = kb.__contains__
    out = {"benchmark": os.path.basename(gold_path), "docs": len(gold),
           "predictions": os.path.basename(pred_path) if pred_path else "factlink",
           "end_to_end": score_corpus(gold, preds).to_dict(),
           "in_kb": score_corpus(gold, preds, in_kb).to_dict(),
           "kb_coverage": round(coverage(gold, in_kb), 4), "kb_version": kb.version}
    if times:
        times.sort()
        out["ms_per_doc"] = {"median": round(statistics.median(times), 3),
                             "p90": round(times[int(0.9 * (len(times) - 1))], 3),
                             "mean": round(statistics.fmean(times), 3)}
        confidences, correct = [], []
        for doc in gold:
            predicted = preds.get(str(doc["id"]), [])
            verdicts, _missed = judge_document(doc, predicted, in_kb)
            for p, v in zip(predicted, verdicts):
                # a link where the gold annotates nothing says nothing about being right
                # (the sparse sets leave most names unannotated): calibration is measured
                # on links whose span the gold annotates
                if v in ("tp", "fp"):
                    confidences.append(p["confidence"])
                    correct.append(v == "tp")
        out["calibration"] = {"links": len(confidences), "confidences": confidences, "correct": correct,
                              "ece": round(expected_calibration_error(confidences, correct), 4)}
    if errors_too:
        found = [dict(e, doc=str(doc["id"])) for doc in gold
                 for e in classify_errors(doc, preds.get(str(doc["id"]), []), in_kb)]
        out["errors"] = {kind: [e for e in found if e["kind"] == kind] for kind in ERROR_KINDS}
    return out


#: below this share of the gold's entities in the KB, scores say more about the KB than the linker
LOW_KB_COVERAGE = 0.20


def warn_low_coverage(result: dict) -> None:
    if result["kb_coverage"] < LOW_KB_COVERAGE:
        sys.stderr.write(
            f"factlink: warning: the KB ({result['kb_version']}) holds only "
            f"{result['kb_coverage']:.1%} of the gold entities of {result['benchmark']}: linking "
            "with it cannot find the others, and its in-KB view leaves them out; pass --kb with "
            "a KB built from Wikidata (factlink kb build, see README \"Evaluation\")\n")


def _print_errors(r: dict, limit: int) -> None:
    print(f"\n{r['benchmark']}: in-KB misses and false links by kind")
    for kind, found in r["errors"].items():
        misses = sum(e["error"] == "miss" for e in found)
        print(f"  {kind}: {len(found)} ({misses} missed, {len(found) - misses} false links)")
        for e in found[:limit]:
            conf = f" conf {e['confidence']:.2f}" if e.get("confidence") is not None else ""
            print(f"    {e['error']:<10} {e['doc']}:{e['span'][0]}-{e['span'][1]} {e['surface']!r}"
                  f" gold {e['gold']} got {e['predicted']}{conf}")


def cmd_eval(args) -> int:
    try:
        kb = open_kb(kb_path_arg(args))
        options = LinkOptions.from_dict({"threshold": args.threshold}) if args.threshold is not None else None
    except errors.FactlinkError as exc:
        return fail(exc)
    results = []
    for gold in args.gold:
        try:
            results.append(evaluate_file(gold, kb, args.pred, options, errors_too=args.errors,
                                         given_spans=args.given_spans))
        except OSError as exc:
            return fail(errors.InvalidInput(f"cannot read {exc.filename}: {exc.strerror}"))
        except (orjson.JSONDecodeError, KeyError) as exc:
            return fail(errors.InvalidInput(f"{gold}: not a benchmark JSONL file ({exc})"))
    for r in results:
        warn_low_coverage(r)
    calibrated = [r["calibration"] for r in results if "calibration" in r]
    together = (expected_calibration_error([c for k in calibrated for c in k["confidences"]],
                                           [o for k in calibrated for o in k["correct"]]) if calibrated else None)
    for r in results:
        if "calibration" in r:
            del r["calibration"]["confidences"], r["calibration"]["correct"]
    if args.json:
        for r in results:
            _write_json(r)
        return EXIT_OK
    print(f"kb_version {kb.version} ({len(kb):,} entities)")
    print(f"{'benchmark':<22} {'view':<11} {'P':>6} {'R':>6} {'F1':>6}  {'coverage':>8}  {'ECE':>6}  ms/doc (median/p90)")
    for r in results:
        ms = r.get("ms_per_doc")
        speed = f"{ms['median']:.2f}/{ms['p90']:.2f}" if ms else "-"
        ece = f"{r['calibration']['ece']:.3f}" if "calibration" in r else "-"
        for view in ("end_to_end", "in_kb"):
            s = r[view]
            print(f"{r['benchmark']:<22} {view:<11} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f}"
                  f"  {r['kb_coverage']:>8.1%}  {ece if view == 'in_kb' else '':>6}  {speed if view == 'end_to_end' else ''}")
    if together is not None and len(results) > 1:
        print(f"ECE (10 bins, in-KB links of all {len(results)} files together): {together:.3f}")
    if args.errors:
        for r in results:
            _print_errors(r, args.errors_limit)
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Register the core's commands; returns the ``kb`` sub-commands (others add to them)."""
    kb = sub.add_parser("kb", help="knowledge base commands")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    b = kb_sub.add_parser("build", help="build a KB directory from Wikidata JSON dumps")
    b.add_argument("sources", nargs="+", help="dump files (.json, .json.gz, .json.bz2, JSON Lines)")
    b.add_argument("--out", required=True, help="KB directory to create (replaced atomically)")
    b.add_argument("--popularity", help="side file qid<TAB>score (e.g. PageRank), may be .gz")
    b.add_argument("--languages", default="en", help="comma list, first is the display language")
    b.add_argument("--workers", type=int, default=None, help="parser processes (default: all cores)")
    b.add_argument("--strict", action="store_true", help="stop at the first malformed line")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_kb_build)

    ln = sub.add_parser("link", help="link plain text or JSON Lines ({id, text, published_at?})")
    ln.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    ln.add_argument("--format", choices=("auto", "text", "jsonl"), default="auto",
                    help="input kind (default auto: .jsonl/.ndjson files, or input whose lines "
                         "are mostly JSON objects, are JSON Lines; anything else is one text)")
    ln.add_argument("--kb", help="KB directory (default: FACTLINK_KB, else the starter KB)")
    ln.add_argument("--published-at", help="article date (YYYY-MM-DD) for time-aware facts")
    ln.add_argument("--threshold", type=float, default=LinkOptions.threshold)
    ln.add_argument("--top-k", type=int, default=0, help="include the k best candidates per mention")
    ln.add_argument("--no-cards", action="store_true", help="omit fact cards and relations")
    ln.set_defaults(func=cmd_link)

    ev = sub.add_parser("eval", help="score linking on benchmark JSONL files")
    ev.add_argument("gold", nargs="+", help="gold JSONL files (shared/data/bench schema)")
    ev.add_argument("--pred", help="score this prediction JSONL instead of linking")
    ev.add_argument("--kb", help="KB directory (default: FACTLINK_KB, else the starter KB)")
    ev.add_argument("--threshold", type=float, default=None)
    ev.add_argument("--errors", action="store_true",
                    help="list, per file, the in-KB misses and false links by kind")
    ev.add_argument("--errors-limit", type=int, default=20, help="examples printed per kind (default 20)")
    ev.add_argument("--json", action="store_true", help="one JSON object per benchmark")
    ev.add_argument("--given-spans", action="store_true",
                    help="disambiguate the gold spans instead of spotting (GERBIL's D2KB task)")
    ev.set_defaults(func=cmd_eval)
    return kb_sub
