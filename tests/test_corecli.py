"""The core's command line — ``factlink kb build``, ``factlink link``, ``factlink eval`` — driven
through the argparse parser ``service.corecli.add_parsers`` builds: JSON on stdout, one line
per problem on stderr (never a traceback), and the documented exit codes."""
from __future__ import annotations

import argparse
import io
import sys

import orjson
import pytest
from wikidata_dump import NATO, NEWS_WORLD, UKRAINE, shared_data_dir, write_dump

from linkers import open_kb
from service.corecli import EXIT_DUMP, EXIT_KB, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, add_parsers

BENCH = shared_data_dir() / "bench"


@pytest.fixture
def factlink(capsys, monkeypatch):
    """Run a factlink command line; returns (exit code, stdout JSON lines, stderr text).
    ``factlink.stdout`` keeps the last command's raw stdout (for the human-readable table)."""
    monkeypatch.delenv("FACTLINK_KB", raising=False)
    parser = argparse.ArgumentParser(prog="factlink")
    add_parsers(parser.add_subparsers(dest="command", required=True))

    def run(*argv) -> tuple[int, list, str]:
        args = parser.parse_args([str(a) for a in argv])
        code = args.func(args)
        run.stdout, err = capsys.readouterr()
        assert "Traceback" not in err
        lines = [orjson.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        return code, lines, err
    return run


# --- kb build --------------------------------------------------------------------------------
def test_kb_build_prints_a_json_summary(factlink, tmp_path):
    dump = write_dump(tmp_path / "news.json.gz", NEWS_WORLD)
    code, [summary], _ = factlink("kb", "build", dump, "--out", tmp_path / "kb", "--workers", 1, "--quiet")
    assert code == EXIT_OK
    assert summary["kb_version"] == open_kb(tmp_path / "kb").version
    assert summary["entities"] == summary["size_entities"] == len(NEWS_WORLD)
    assert (summary["malformed_lines"], summary["duplicates"]) == (0, 0)


def test_kb_build_reports_malformed_lines_on_stderr(factlink, tmp_path):
    dump = write_dump(tmp_path / "news.json", [NATO, "{broken", UKRAINE])
    code, [summary], err = factlink("kb", "build", dump, "--out", tmp_path / "kb", "--workers", 1)
    assert code == EXIT_OK
    assert summary["malformed_lines"] == 1
    assert "line 3" in err


def test_kb_build_strict_stops_with_exit_4(factlink, tmp_path):
    dump = write_dump(tmp_path / "news.json", [NATO, "{broken", UKRAINE])
    code, out, err = factlink("kb", "build", dump, "--out", tmp_path / "kb", "--workers", 1, "--strict")
    assert (code, out) == (EXIT_DUMP, [])
    assert "[dump_error]" in err and "line 3" in err
    assert not (tmp_path / "kb").exists()


def test_kb_build_of_a_missing_dump_exits_3(factlink, tmp_path):
    code, _, err = factlink("kb", "build", tmp_path / "nope.json", "--out", tmp_path / "kb")
    assert code == EXIT_KB
    assert "nope.json" in err


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("suffix", [".json.gz", ".json.bz2"])
def test_kb_build_of_a_truncated_download_exits_4_with_a_message(factlink, tmp_path, suffix, workers):
    whole = write_dump(tmp_path / f"news{suffix}", NEWS_WORLD * 40).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) // 2])             # a download cut short
    code, out, err = factlink("kb", "build", cut, "--out", tmp_path / "kb", "--workers", workers)
    assert (code, out) == (EXIT_DUMP, [])
    assert "[dump_error]" in err and str(cut) in err and "ends early" in err
    assert not (tmp_path / "kb").exists()


def test_kb_build_of_a_file_that_is_not_gzip_exits_4(factlink, tmp_path):
    fake = tmp_path / "dump.json.gz"
    fake.write_bytes(b'{"id": "Q1"}\n')
    code, _, err = factlink("kb", "build", fake, "--out", tmp_path / "kb")
    assert code == EXIT_DUMP and "[dump_error]" in err and "gz" in err


# --- link ------------------------------------------------------------------------------------
def test_link_a_plain_text_file(factlink, news_kb, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text("\U0001F600 Macron met Putin about Ukraine, NATO\u2019s allies said.\n")
    code, [result], _ = factlink("link", article, "--kb", news_kb.path, "--published-at", "2022-02-10")
    assert code == EXIT_OK
    assert {m["text"]: m["qid"] for m in result["mentions"]} == \
        {"Macron": "Q3052772", "Putin": "Q7747", "Ukraine": "Q212", "NATO": "Q7184"}
    assert result["published_at"] == "2022-02-10" and result["kb_version"] == news_kb.version
    assert result["entities"]["Q7184"]["label"] == "NATO"


def test_link_options_from_the_command_line(factlink, news_kb, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text("Macron met Putin.")
    code, [result], _ = factlink("link", article, "--kb", news_kb.path, "--top-k", 2, "--no-cards")
    assert code == EXIT_OK
    assert result["entities"] == {} and result["relations"] == []
    assert result["mentions"][0]["candidates"][0]["qid"] == "Q3052772"
    code, [result], _ = factlink("link", article, "--kb", news_kb.path, "--threshold", 1.0)
    assert all(m["qid"] is None for m in result["mentions"])


def test_link_json_lines_one_result_per_line_and_bad_lines_reported(factlink, news_kb, tmp_path):
    docs = tmp_path / "articles.jsonl"
    docs.write_bytes(b"\n".join([
        orjson.dumps({"id": "a", "text": "Macron met Putin."}),
        b'{"id": "b", "text": "NATO',                                   # line 2: not JSON
        orjson.dumps({"id": 3, "text": "NATO's allies met in Paris.", "published_at": "2022-02-10"}),
        orjson.dumps({"id": "c", "text": ["not", "a", "string"]}),       # line 4: text not a string
        orjson.dumps({"id": "d", "text": "Ukraine.", "published_at": "last week"}),  # line 5: bad date
        orjson.dumps({"id": "e", "text": "Thermo-Print GmbH"}),
    ]) + b"\n")
    code, results, err = factlink("link", docs, "--kb", news_kb.path)
    assert code == EXIT_PARTIAL
    assert [r["id"] for r in results] == ["a", 2, 3, "c", "d", "e"]
    by_id = {r["id"]: r for r in results}
    assert [m["qid"] for m in by_id["a"]["mentions"]] == ["Q3052772", "Q7747"]
    assert by_id[3]["published_at"] == "2022-02-10"
    assert by_id[3]["mentions"][0] == {"start": 0, "end": 4, "start_utf16": 0, "end_utf16": 4, "text": "NATO",
                                       "qid": "Q7184", "label": "NATO", "confidence": by_id[3]["mentions"][0]["confidence"]}
    assert by_id["e"]["mentions"][0]["qid"] is None
    assert (by_id[2]["line"], by_id[2]["error"]["code"]) == (2, "malformed_json")
    assert (by_id["c"]["line"], by_id["c"]["error"]["code"]) == (4, "missing_field")
    assert (by_id["d"]["line"], by_id["d"]["error"]["code"]) == (5, "invalid_input")
    assert [line.split(":")[1].strip() for line in err.splitlines()] == ["line 2", "line 4", "line 5"]


def test_link_json_line_without_text_is_reported_under_its_id(factlink, news_kb, tmp_path):
    docs = tmp_path / "articles.jsonl"
    docs.write_bytes(orjson.dumps({"id": "c", "body": "no text field"}) + b"\n")
    code, [result], _ = factlink("link", docs, "--kb", news_kb.path)
    assert code == EXIT_PARTIAL
    assert (result["id"], result["line"], result["error"]["code"]) == ("c", 1, "missing_field")


def test_link_all_good_json_lines_exits_0(factlink, news_kb, tmp_path):
    docs = tmp_path / "articles.ndjson"
    docs.write_bytes(orjson.dumps({"id": "a", "text": "Macron."}) + b"\n\n"
                     + orjson.dumps({"id": "b", "text": "Putin."}) + b"\n")
    code, results, _ = factlink("link", docs, "--kb", news_kb.path)
    assert code == EXIT_OK
    assert [r["id"] for r in results] == ["a", "b"]


@pytest.fixture
def stdin(monkeypatch):
    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return feed


def test_link_stdin_json_lines_are_detected_from_the_whole_input(factlink, news_kb, stdin):
    stdin(b"exported 2022-02-10\n"                                   # line 1: not a JSON object
          + orjson.dumps({"id": "a", "text": "Macron met Putin."}) + b"\n"
          + orjson.dumps({"id": "b", "text": "NATO's allies met."}) + b"\n")
    code, results, err = factlink("link", "-", "--kb", news_kb.path)
    assert code == EXIT_PARTIAL
    assert [r["id"] for r in results] == [1, "a", "b"]
    assert results[0]["error"]["code"] == "malformed_json"
    assert [m["qid"] for m in results[1]["mentions"]] == ["Q3052772", "Q7747"]
    assert err.startswith("factlink: line 1: [malformed_json]")


def test_link_format_flag_overrides_the_detection(factlink, news_kb, stdin):
    line = orjson.dumps({"id": "a", "text": "Macron met Putin."})
    stdin(line + b"\n")
    code, [result], _ = factlink("link", "-", "--kb", news_kb.path, "--format", "text")
    assert code == EXIT_OK and "id" not in result                 # one document: the JSON itself
    stdin(b"Macron met Putin.\nNATO allies met.\nUkraine.\n")
    code, results, err = factlink("link", "-", "--kb", news_kb.path, "--format", "jsonl")
    assert code == EXIT_PARTIAL and len(results) == 3 and all("error" in r for r in results)
    assert len(err.splitlines()) == 3


def test_link_prose_quoting_a_json_line_is_one_text_with_a_hint(factlink, news_kb, stdin):
    stdin(b"Macron met Putin.\nThe statement read:\n{\"NATO\": \"allies\"}\nUkraine answered.\n")
    code, [result], err = factlink("link", "-", "--kb", news_kb.path)
    assert code == EXIT_OK and "Q3052772" in {m["qid"] for m in result["mentions"]}
    assert "1 line(s) look like JSON objects" in err and "--format jsonl" in err


def test_link_input_that_is_not_utf8_exits_2(factlink, news_kb, tmp_path):
    article = tmp_path / "latin1.txt"
    article.write_bytes("Macron a rencontr\u00e9 Poutine \u00e0 Moscou.".encode("latin-1"))
    code, out, err = factlink("link", article, "--kb", news_kb.path)
    assert (code, out) == (EXIT_USAGE, [])
    assert err.startswith("factlink: error [invalid_encoding]")


def test_link_with_a_bad_date_or_missing_input_exits_2(factlink, news_kb, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text("Macron met Putin.")
    code, _, err = factlink("link", article, "--kb", news_kb.path, "--published-at", "10/02/2022")
    assert code == EXIT_USAGE and "published_at" in err
    code, _, err = factlink("link", tmp_path / "missing.txt", "--kb", news_kb.path)
    assert code == EXIT_USAGE and "missing.txt" in err
    code, _, err = factlink("link", article, "--kb", news_kb.path, "--threshold", 2)
    assert code == EXIT_USAGE and "threshold" in err


def test_link_with_a_missing_kb_exits_3(factlink, tmp_path, monkeypatch):
    article = tmp_path / "article.txt"
    article.write_text("Macron met Putin.")
    code, out, err = factlink("link", article, "--kb", tmp_path / "no-kb")
    assert (code, out) == (EXIT_KB, [])
    assert err.startswith("factlink: error [kb_error]") and "no-kb" in err
    (tmp_path / "not-a-kb").mkdir()
    code, _, err = factlink("link", article, "--kb", tmp_path / "not-a-kb")
    assert code == EXIT_KB and "[kb_format]" in err
    monkeypatch.setenv("FACTLINK_KB", str(tmp_path / "no-kb"))          # the environment's KB
    code, _, _ = factlink("link", article)
    assert code == EXIT_KB


# --- eval ------------------------------------------------------------------------------------
def test_eval_links_the_gold_documents(factlink, news_kb, tmp_path):
    text = "Macron met Putin about Ukraine in Paris."
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(orjson.dumps({"id": 1, "text": text, "mentions": [
        {"start": 0, "end": 6, "qid": "Q3052772"}, {"start": 11, "end": 16, "qid": "Q7747"},
        {"start": 23, "end": 30, "qid": "Q212"}, {"start": 34, "end": 39, "qid": "Q90"}]}) + b"\n")
    code, [report], err = factlink("eval", gold, "--kb", news_kb.path, "--json")
    assert code == EXIT_OK
    assert report["end_to_end"] == {"tp": 4, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert report["kb_coverage"] == 1.0 and report["ms_per_doc"]["median"] > 0
    assert "warning" not in err


def test_eval_on_a_kb_missing_most_of_the_gold_warns_and_points_at_kb(factlink, starter_kb):
    """The first-run trap: a public benchmark scored on the starter KB (F1 ~0.08)."""
    gold, pred = BENCH / "reuters-128.jsonl", BENCH / "anchors" / "refined.reuters-128.jsonl"
    if not pred.is_file():
        pytest.skip(f"benchmarks not found at {BENCH}")
    code, _, err = factlink("eval", gold, "--pred", pred, "--kb", starter_kb.path)
    assert code == EXIT_OK
    assert "warning: the KB" in err and "of the gold entities of reuters-128.jsonl" in err
    assert "--kb" in err


def test_eval_given_spans_disambiguates_only_the_gold_spans(factlink, news_kb, tmp_path):
    text = "Macron met Putin about Ukraine in Paris."
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(orjson.dumps({"id": 1, "text": text, "mentions": [
        {"start": 0, "end": 6, "qid": "Q3052772"}, {"start": 34, "end": 39, "qid": "Q90"}]}) + b"\n")
    _code, [spotted], _ = factlink("eval", gold, "--kb", news_kb.path, "--json")
    code, [given], _ = factlink("eval", gold, "--kb", news_kb.path, "--json", "--given-spans")
    assert code == EXIT_OK
    assert spotted["end_to_end"]["fp"] == 2          # Putin and Ukraine, not in this gold
    assert given["end_to_end"] == {"tp": 2, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_eval_of_stored_predictions_reproduces_the_readme(factlink, news_kb):
    gold, pred = BENCH / "reuters-128.jsonl", BENCH / "anchors" / "refined.reuters-128.jsonl"
    if not pred.is_file():
        pytest.skip(f"benchmarks not found at {BENCH}")
    code, [report], _ = factlink("eval", gold, "--pred", pred, "--kb", news_kb.path, "--json")
    assert code == EXIT_OK
    scores = report["end_to_end"]
    assert (round(scores["precision"], 2), round(scores["recall"], 2), round(scores["f1"], 3)) == (0.51, 0.62, 0.564)


def test_eval_table_shows_p_r_f1(factlink, news_kb):
    gold, pred = BENCH / "reuters-128.jsonl", BENCH / "anchors" / "refined.reuters-128.jsonl"
    if not pred.is_file():
        pytest.skip(f"benchmarks not found at {BENCH}")
    code, _, _ = factlink("eval", gold, "--pred", pred, "--kb", news_kb.path)
    assert code == EXIT_OK
    assert "reuters-128.jsonl      end_to_end   0.514  0.624  0.564" in factlink.stdout


def test_eval_reports_the_calibration_of_its_confidences(factlink, news_kb, tmp_path):
    text = "Macron met Putin about Ukraine in Paris."
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(orjson.dumps({"id": 1, "text": text, "mentions": [
        {"start": 0, "end": 6, "qid": "Q3052772"}, {"start": 11, "end": 16, "qid": "Q7747"}]}) + b"\n")
    code, [report], _ = factlink("eval", gold, "--kb", news_kb.path, "--json")
    assert code == EXIT_OK
    # two links on annotated spans, both right: the ECE is the mean gap to certainty
    assert report["calibration"]["links"] == 2 and 0.0 <= report["calibration"]["ece"] < 1.0
    code, _, _ = factlink("eval", gold, gold, "--kb", news_kb.path)
    assert "ECE (10 bins, in-KB links of all 2 files together)" in factlink.stdout


def test_eval_errors_lists_misses_and_false_links_by_kind(factlink, news_kb, tmp_path):
    text = "Macron met Putin about Ukraine in Paris."
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(orjson.dumps({"id": 1, "text": text, "mentions": [
        {"start": 0, "end": 6, "qid": "Q3052772"}, {"start": 11, "end": 16, "qid": "Q90"},
        {"start": 23, "end": 33, "qid": "Q212"}]}) + b"\n")
    code, [report], _ = factlink("eval", gold, "--kb", news_kb.path, "--json", "--errors")
    assert code == EXIT_OK
    kinds = {kind: [(e["error"], e["surface"]) for e in found] for kind, found in report["errors"].items()}
    assert kinds["wrong entity"] == [("miss", "Putin"), ("false link", "Putin")]
    assert ("miss", "Ukraine in") in kinds["wrong span"]
    assert kinds["no gold entity"] == [("false link", "Paris")]
    code, _, _ = factlink("eval", gold, "--kb", news_kb.path, "--errors")
    assert "gold.jsonl: in-KB misses and false links by kind" in factlink.stdout
    assert "  not spotted: 0" in factlink.stdout


def test_eval_of_a_file_that_is_not_a_benchmark_exits_2(factlink, news_kb, tmp_path):
    code, _, err = factlink("eval", tmp_path / "missing.jsonl", "--kb", news_kb.path)
    assert code == EXIT_USAGE and "missing.jsonl" in err
    junk = tmp_path / "junk.jsonl"
    junk.write_text("this is not json\n")
    code, _, err = factlink("eval", junk, "--kb", news_kb.path)
    assert code == EXIT_USAGE and "junk.jsonl" in err
