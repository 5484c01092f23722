"""Building a KB from Wikidata dumps and opening it: what `factlink kb build` promises.

Any dump layout gives the same KB; a bad line is reported, not fatal (unless strict); a failed
build never replaces a good KB; popular entities win shared names; opening is instant.
"""
from __future__ import annotations

import shutil
import time

import orjson
import pytest
from wikidata_dump import FRANCE, MACRON, NATO, NEWS_WORLD, PARIS, UKRAINE, item, write_dump

from linkers import build_kb, errors, open_kb


def build(tmp_path, entities, name="dump.json", layout="dump", out="kb", **options):
    dump = write_dump(tmp_path / name, entities, layout)
    report = build_kb([str(dump)], str(tmp_path / out), workers=1, progress=False, **options)
    return report, open_kb(tmp_path / out)


def records(kb) -> dict[str, dict]:
    return {qid: kb.entity(qid) for qid in kb.iter_qids()}


def kb_files(path) -> dict[str, bytes]:
    """Every file of a built KB but meta.json (which has the build's date and timings)."""
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.name != "meta.json"}


@pytest.mark.parametrize("name, layout", [
    ("dump.json.gz", "dump"), ("dump.json.bz2", "dump"),
    ("entities.jsonl", "jsonl"), ("entities.jsonl.gz", "jsonl"),
])
def test_every_dump_layout_gives_the_same_kb(tmp_path, name, layout):
    plain, plain_kb = build(tmp_path, NEWS_WORLD, out="plain")
    other, other_kb = build(tmp_path, NEWS_WORLD, name=name, layout=layout, out="other")
    assert other.kb_version == plain.kb_version == other_kb.version
    assert other.entities == len(other_kb) == len(NEWS_WORLD)
    assert records(other_kb) == records(plain_kb)


def test_parallel_parsing_gives_the_same_kb(tmp_path, monkeypatch):
    monkeypatch.setattr("linkers.kb.build.CHUNK_LINES", 3)      # several hash chunks
    monkeypatch.setattr("linkers.kb.build.BLOCK_BYTES", 300)    # several blocks for two workers
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD + ["{broken"])
    one = build_kb([str(dump)], str(tmp_path / "one"), workers=1, progress=False)
    two = build_kb([str(dump)], str(tmp_path / "two"), workers=2, progress=False)
    assert two.kb_version == one.kb_version
    assert (two.malformed_examples, two.entities) == (one.malformed_examples, len(NEWS_WORLD))
    assert records(open_kb(tmp_path / "two")) == records(open_kb(tmp_path / "one"))


def test_kb_version_changes_with_the_content(tmp_path):
    before, _ = build(tmp_path, NEWS_WORLD, out="before")
    after, _ = build(tmp_path, NEWS_WORLD +
                     [item("Q1899", "Kyiv", "capital and largest city of Ukraine", ["Kiev"])], out="after")
    assert after.kb_version != before.kb_version
    assert after.entities == before.entities + 1


def test_a_malformed_line_is_counted_and_reported_with_its_line_number(tmp_path):
    # line 1 is "[", so the entities are on lines 2.. and the bad ones on lines 3 and 5
    report, kb = build(tmp_path, [NATO, '{"type": "item", "id": "Q212", "labels": ', UKRAINE, '["not", "an entity"]'])
    assert report.malformed == 2
    assert [line.split(":")[0] for line in report.malformed_examples] == ["line 3", "line 5"]
    assert sorted(kb.iter_qids()) == ["Q212", "Q7184"]
    build_meta = orjson.loads((tmp_path / "kb" / "meta.json").read_bytes())["build"]
    assert build_meta["malformed_lines"] == 2
    assert build_meta["malformed_examples"][0].startswith("line 3")


@pytest.mark.parametrize("workers", [1, 2])
def test_line_numbers_run_on_across_blocks_and_restart_in_each_dump(tmp_path, monkeypatch, workers):
    monkeypatch.setattr("linkers.kb.build.BLOCK_BYTES", 300)     # a block every line or two
    first = write_dump(tmp_path / "a.json", NEWS_WORLD + ["{broken"])        # "[" is line 1
    second = write_dump(tmp_path / "b.json", ["{broken", MACRON])
    report = build_kb([str(first), str(second)], str(tmp_path / "kb"), workers=workers, progress=False)
    assert [line.split(":")[0] for line in report.malformed_examples] == \
        [f"line {len(NEWS_WORLD) + 2}", "line 2"]


def test_strict_build_stops_at_the_first_malformed_line(tmp_path):
    with pytest.raises(errors.DumpError) as raised:
        build(tmp_path, [NATO, "{not json", UKRAINE], strict=True)
    assert raised.value.code == "dump_error"
    assert "line 3" in raised.value.message
    assert not (tmp_path / "kb").exists()


def test_a_failed_rebuild_leaves_the_good_kb_in_place(tmp_path):
    good, _ = build(tmp_path, NEWS_WORLD)
    with pytest.raises(errors.DumpError):
        build(tmp_path, [NATO, "{not json", UKRAINE], name="bad.json", strict=True)
    with pytest.raises(errors.KBError):
        build_kb([str(tmp_path / "no-such-dump.json")], str(tmp_path / "kb"), workers=1, progress=False)
    kb = open_kb(tmp_path / "kb")
    assert kb.version == good.kb_version
    assert kb.lookup("Macron")[0].qid == "Q3052772"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".kb.")]
    assert leftovers == []


def test_a_successful_rebuild_replaces_the_kb(tmp_path):
    first, _ = build(tmp_path, [NATO, UKRAINE])
    second, kb = build(tmp_path, NEWS_WORLD, name="bigger.json")
    assert second.kb_version != first.kb_version
    assert kb.version == second.kb_version and len(kb) == len(NEWS_WORLD)


def test_duplicate_entities_are_counted_and_kept_once(tmp_path):
    report, kb = build(tmp_path, [NATO, UKRAINE, NATO])
    assert (report.duplicates, report.entities, len(kb)) == (1, 2, 2)

    first = write_dump(tmp_path / "a.json", [NATO, UKRAINE])
    second = write_dump(tmp_path / "b.jsonl", [UKRAINE, FRANCE], layout="jsonl")
    report = build_kb([str(first), str(second)], str(tmp_path / "two"), workers=1, progress=False)
    assert (report.duplicates, report.entities) == (1, 3)


def test_a_dump_without_entities_is_an_error(tmp_path):
    with pytest.raises(errors.KBError):
        build(tmp_path, [])


# --- names shared by several entities ------------------------------------------------------
PARIS_TEXAS = item("Q830149", "Paris", "county seat of Lamar County, Texas, United States",
                   enwiki="Paris, Texas")
SARKOZY = item("Q329", "Nicolas Sarkozy", "23rd president of the French Republic",
               claims={"P31": ["Q5"], "P19": ["Q90"], "P27": ["Q142"]})            # born in Paris
CHIRAC = item("Q2105", "Jacques Chirac", "French statesman and official (1932\u20132019)",
              claims={"P31": ["Q5"], "P19": ["Q90"], "P20": ["Q90"], "P27": ["Q142"]})
PARIS_WORLD = [PARIS_TEXAS, PARIS, FRANCE, SARKOZY, CHIRAC]     # Paris, Texas first in the dump


def test_the_entity_others_point_at_ranks_first_for_a_shared_name(tmp_path):
    _, kb = build(tmp_path, PARIS_WORLD)
    ranked = kb.lookup("Paris")
    assert [c.qid for c in ranked] == ["Q90", "Q830149"]
    assert ranked[0].score > ranked[1].score
    assert kb.in_degree(kb.internal_id("Q90")) == 4          # France's capital, born/died there
    assert kb.in_degree(kb.internal_id("Q830149")) == 0


def test_a_popularity_side_file_is_taken_into_account(tmp_path):
    pagerank = tmp_path / "pagerank.tsv"
    pagerank.write_text("Q830149\t0.0001\nQ90\t0.0000001\n")
    without, _ = build(tmp_path, PARIS_WORLD, out="without")
    report, kb = build(tmp_path, PARIS_WORLD, out="with", popularity=str(pagerank))
    assert kb.lookup("Paris")[0].qid == "Q830149"
    assert report.kb_version != without.kb_version
    with pytest.raises(errors.KBError):
        build(tmp_path, PARIS_WORLD, out="missing", popularity=str(tmp_path / "nope.tsv"))


# --- looking things up -----------------------------------------------------------------------
def test_lookup_finds_entities_by_label_and_alias(news_kb):
    assert news_kb.lookup("NATO")[0].qid == "Q7184"
    assert news_kb.lookup("North Atlantic Treaty Organization")[0].qid == "Q7184"
    top = news_kb.lookup("U.S.")[0]
    assert (top.qid, top.label, top.description) == ("Q30", "United States of America",
                                                     "sovereign state in North America")
    assert news_kb.lookup("Thermo-Print GmbH") == []


def test_unknown_qids_are_not_in_the_kb(news_kb):
    assert "Q7184" in news_kb and len(news_kb) == len(NEWS_WORLD)
    for qid in ("Q1", "Q99999999999", "NATO", "Q", "q7184"):
        assert qid not in news_kb
        assert news_kb.entity(qid) is None
        assert news_kb.fact_card(qid) is None


# --- opening -------------------------------------------------------------------------------
def test_opening_a_missing_kb_directory_is_a_kb_error(tmp_path):
    with pytest.raises(errors.KBError) as raised:
        open_kb(tmp_path / "nowhere")
    assert raised.value.code == "kb_error"


def test_a_directory_that_is_not_a_kb_is_a_format_error(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(errors.KBFormatError) as raised:
        open_kb(tmp_path / "notes")
    assert raised.value.code == "kb_format"


@pytest.mark.parametrize("damage", ["corrupt meta", "other format", "missing trie", "missing array"])
def test_a_damaged_kb_is_a_format_error(tmp_path, damage):
    build(tmp_path, [NATO, UKRAINE, MACRON])
    kb_dir = tmp_path / "kb"
    if damage == "corrupt meta":
        (kb_dir / "meta.json").write_text('{"format": "factlink-kb/1", "kb_ver')
    elif damage == "other format":
        meta = orjson.loads((kb_dir / "meta.json").read_bytes())
        (kb_dir / "meta.json").write_bytes(orjson.dumps({**meta, "format": "factlink-kb/0"}))
    elif damage == "missing trie":
        (kb_dir / "aliases.marisa").unlink()
    else:
        (kb_dir / "cand.ent").unlink()
    with pytest.raises(errors.KBFormatError):
        open_kb(kb_dir)


def test_a_copied_kb_directory_opens_with_the_same_version(tmp_path):
    report, _ = build(tmp_path, NEWS_WORLD)
    shutil.copytree(tmp_path / "kb", tmp_path / "copy")
    assert open_kb(tmp_path / "copy").version == report.kb_version


# --- the KB of the shared Wikidata subset ----------------------------------------------------
def test_the_full_kb_opens_in_under_a_second(full_kb):
    t0 = time.perf_counter()
    kb = open_kb(full_kb)
    seconds = time.perf_counter() - t0
    assert seconds < 1.0
    assert len(kb) == 134_617
    assert kb.meta["build"]["malformed_lines"] == 0
    assert kb.lookup("NATO")[0].qid == "Q7184"
    assert kb.lookup("Paris")[0].qid == "Q90"
    assert kb.lookup("Georgia")[0].qid in {"Q230", "Q1428"}
    assert kb.fact_card("Q212")["label"] == "Ukraine"


def test_the_dense_qid_table_and_the_binary_search_build_the_same_kb(tmp_path, monkeypatch):
    # Wikidata's QIDs are dense: targets are resolved through a direct table; sparse sets of
    # QIDs (like this one) through a binary search. Both must give the same graph and priors.
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD)
    monkeypatch.setattr("linkers.kb.build.DENSE_QID_TABLE_RATIO", 0)
    search = build_kb([str(dump)], str(tmp_path / "search"), workers=1, progress=False)
    monkeypatch.setattr("linkers.kb.build.DENSE_QID_TABLE_RATIO", 10**9)
    dense = build_kb([str(dump)], str(tmp_path / "dense"), workers=1, progress=False)
    assert (dense.kb_version, dense.edges) == (search.kb_version, search.edges) and search.edges > 0
    assert kb_files(tmp_path / "dense") == kb_files(tmp_path / "search")


@pytest.mark.parametrize("key_scale", [1, 1 << 40])       # packed into uint64 / too wide to pack
def test_each_name_keeps_its_best_kind_once_per_entity(key_scale):
    import numpy as np
    from linkers.kb import layout
    from linkers.kb.build import _KIND_RANK, _best_name_rows
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 50, 5000) * key_scale
    ents = rng.integers(0, 300, 5000)
    flags = rng.choice([layout.FLAG_LABEL, layout.FLAG_ALIAS | layout.FLAG_LOWER, layout.FLAG_PARTIAL,
                        layout.FLAG_GIVEN, layout.FLAG_LABEL | layout.FLAG_ACRONYM], 5000).astype(np.uint8)
    best: dict[tuple[int, int], int] = {}
    for k, e, f in zip(keys.tolist(), ents.tolist(), flags.tolist()):
        if (k, e) not in best or (_KIND_RANK[f], f) < (_KIND_RANK[best[k, e]], best[k, e]):
            best[k, e] = f
    got_keys, got_ents, got_flags = _best_name_rows(keys, ents, flags)
    assert list(zip(got_keys.tolist(), got_ents.tolist(), got_flags.tolist())) == \
        [(k, e, f) for (k, e), f in sorted(best.items())]


def test_the_same_dump_builds_the_same_kb_files_whatever_the_hash_seed(tmp_path):
    # alias keys travel between processes by their (seeded) Python hash: the files must not
    import subprocess
    import sys
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD)
    for seed in ("1", "2"):
        code = (f"from linkers import build_kb; build_kb([{str(dump)!r}], {str(tmp_path / seed)!r}, "
                f"workers=2, progress=False)")
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed})
    assert kb_files(tmp_path / "2") == kb_files(tmp_path / "1")


@pytest.mark.parametrize("keys, hashes", [
    (["paris", "nato", "kyiv", "ukraine", "us", "u"], "ours"),
    (["paris", "nato", "paris"], "other"),     # a key under two hashes (differently seeded workers)
])
def test_trie_ids_match_the_trie_lookups(keys, hashes):
    import marisa_trie
    import numpy as np
    from linkers.kb.build import _KeyIds, _trie_ids, key_hash
    trie = marisa_trie.Trie(keys, weights=[float(i + 1) for i in range(len(keys))])
    table = _KeyIds()
    ids, _ = table.add(np.array([key_hash(k) if hashes == "ours" else i + 1 for i, k in enumerate(keys)],
                                dtype=np.uint64))
    by_id = [keys[i] for i in np.argsort(ids)]
    assert _trie_ids(trie, by_id, table).tolist() == [trie[k] for k in by_id]


def test_the_key_table_numbers_each_hash_once_and_finds_it_again():
    import numpy as np
    from linkers.kb.build import _KeyIds
    rng = np.random.default_rng(1)
    pool = rng.integers(0, 2**63, 20_000, dtype=np.uint64) * np.uint64(2)   # even: 1 is never a key
    pool[5] = 0                                                           # the empty-slot marker
    table, seen = _KeyIds(bits=4), {}                                     # grows many times
    for _ in range(100):
        batch = np.unique(rng.choice(pool, 800))
        ids, new = table.add(batch)
        assert sorted(ids[new].tolist()) == list(range(len(seen), len(seen) + len(new)))
        for h, i in zip(batch.tolist(), ids.tolist()):
            assert seen.setdefault(h, i) == i
    assert len(table) == len(seen) == len(set(seen.values()))
    asked = np.array([*seen, 1, 3], dtype=np.uint64)
    assert table.get(asked).tolist() == [*seen.values(), -1, -1]



def test_one_key_under_several_hashes_builds_the_same_kb(tmp_path, monkeypatch):
    # Spawned workers hash with their own seeds: the main process then sees one alias key
    # under several ids, and the trie (built from the strings) merges their candidate lists.
    import itertools
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD)
    build_kb([str(dump)], str(tmp_path / "one"), workers=1, progress=False)
    fresh = itertools.count()
    monkeypatch.setattr("linkers.kb.build.key_hash", lambda key: hash((key, next(fresh))) & (2**64 - 1))
    monkeypatch.setattr("linkers.kb.build._name_cache", {})
    build_kb([str(dump)], str(tmp_path / "many"), workers=1, progress=False)
    assert kb_files(tmp_path / "many") == kb_files(tmp_path / "one")


@pytest.mark.parametrize("no_fork", ["platform", "refused"])
def test_without_fork_the_trie_is_built_in_process_with_the_same_result(tmp_path, monkeypatch, no_fork):
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD)
    build_kb([str(dump)], str(tmp_path / "fork"), workers=1, progress=False)
    if no_fork == "platform":
        monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])
    else:                                   # fork fails (ENOMEM for a huge parent process)
        def refuse(self):
            raise OSError(12, "Cannot allocate memory")
        monkeypatch.setattr("multiprocessing.process.BaseProcess.start", refuse)
    build_kb([str(dump)], str(tmp_path / "inline"), workers=1, progress=False)
    assert kb_files(tmp_path / "inline") == kb_files(tmp_path / "fork")


@pytest.mark.parametrize("where", ["child", "in process"])
def test_a_failed_trie_build_is_a_kb_error_and_leaves_nothing_behind(tmp_path, monkeypatch, where):
    def _build_trie(*args):
        raise MemoryError("no room for the trie")
    monkeypatch.setattr("linkers.kb.build._build_trie", _build_trie)
    if where == "in process":
        monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])
    dump = write_dump(tmp_path / "news.json", NEWS_WORLD)
    with pytest.raises(errors.KBError, match="building the alias trie failed: MemoryError: no room"):
        build_kb([str(dump)], str(tmp_path / "kb"), workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.json"]
