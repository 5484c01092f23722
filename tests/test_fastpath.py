"""The fast paths of linking (``linkers.fastpath``) give the output of the pure-Python code they
replace: every public benchmark text and every news-suite sentence is linked both ways, with
the KB of the shared Wikidata subset, in one process (no stored answers that a quality change
would make stale).

Exactly equal: spans, QIDs, labels, candidate order, fact cards, relations. Numbers (confidence,
candidate scores) may differ by the order of a floating-point sum, so they compare to 1e-9.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkers import LinkOptions, link, open_kb
from linkers import fastpath
from linkers.fastpath import reference_paths
from linkers.text import TOKEN_RE, _normalized_reference as normalize_reference, normalize, tokenize

from wikidata_dump import shared_data_dir

PUBLIC_SETS = ("reuters-128", "kore50", "rss-500", "derczynski", "spotlight")
NEWS_SUITE = Path(__file__).parent / "news_suite"
# candidates too: their order and scores are where a difference would show first
OPTIONS = LinkOptions(top_k=5)


def corpus_texts() -> list[tuple[str, str]]:
    paths = [shared_data_dir() / "bench" / f"{name}.jsonl" for name in PUBLIC_SETS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"public benchmark texts not present: {', '.join(missing)}")
    out = []
    for path in paths + sorted(NEWS_SUITE.glob("*.jsonl")):
        for n, line in enumerate(path.read_bytes().splitlines()):
            if line.strip():
                out.append((f"{path.name}:{n + 1}", orjson.loads(line)["text"]))
    return out


def long_articles(kb) -> list[tuple[str, str]]:
    """Two 4 KB synthetic articles and a 32 KB one: blocks of up to ``SIMILARITY_BLOCK``
    mentions, which no public text has."""
    from bench.news_corpus import NewsCorpus

    corpus = NewsCorpus(kb, seed=5)
    return [("synthetic", corpus.article(size)) for size in (4096, 4096, 32768)]


def comparable(result) -> tuple:
    """The user-visible output, numbers unrounded."""
    mentions = [(m.start, m.end, m.text, m.qid, m.label, m.confidence,
                 [(c.qid, c.label, c.score) for c in m.candidates]) for m in result.mentions]
    return mentions, result.entities, [r.to_dict() for r in result.relations]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def test_the_fast_paths_link_every_public_text_and_news_sentence_as_the_reference_does(full_kb):
    texts = corpus_texts()
    kb = open_kb(str(full_kb))
    with reference_paths():
        expected = [comparable(link(text, kb, options=OPTIONS)) for _name, text in texts]
    differ = [name for (name, text), want in zip(texts, expected)
              if not same(comparable(link(text, kb, options=OPTIONS)), want)]
    assert len(texts) > 900
    assert sum(len(m) for m, _e, _r in expected) > 5000
    assert sum(1 for m, _e, _r in expected for mention in m if mention[3]) > 1000    # not all NIL
    assert not differ, f"{len(differ)} texts link differently, first: {differ[:5]}"


def test_the_spotter_cuts_every_public_text_and_news_sentence_as_its_reference_does(full_kb):
    """Every field of every span (the flags the ranker reads too: embedded, modifier, given,
    person cue, list) spotted with the fast path and with the reference
    (``spotter._spot_reference``), and the NIL runs left around them, on the texts and on runs
    of 40 texts cut at 4 KB (the per-text tables are kept for long texts only). ``nil_spans``
    is compared with its reference too (``spotter._nil_spans_reference``, every token read),
    on spotting's table, which must answer for its tokens."""
    from linkers.spotter import nil_spans, spot
    texts = [text for _name, text in corpus_texts()]
    texts += ["\n\n".join(texts[k:k + 40])[:4096] for k in range(0, len(texts), 40)]
    kb = open_kb(str(full_kb))

    def spotted():
        out = []
        for text in texts:
            spans = spot(text, kb)
            out.append(([asdict(sp) for sp in spans], [asdict(sp) for sp in nil_spans(text, spans)]))
        return out

    with reference_paths():
        expected = spotted()
    got = spotted()
    assert sum(len(spans) for spans, _nil in expected) > 5000
    differ = [text[:60] for text, a, b in zip(texts, got, expected) if a != b]
    assert not differ, f"{len(differ)} texts spot differently, first: {differ[:3]}"


# The spotter's rarer ways, each written so that a fast path that skipped it would cut
# differently: commas inside and after names, possessives, a leading "The" or title, Slavic
# endings, clubs, company suffixes, headlines, agency credits, re-posts, accents and dots.
SPOTTER_CORNERS = [
    "Columbus, Ohio, and Paris, Texas, sent aid; Smith, Jones and Co. said so.",
    "Washington, D.C., London, England, United Kingdom: Kidder, Peabody and Co rose.",
    "NATO's chief and Russians' views; the Kremlin's reply to Zelenskiy and Zelensky.",
    "The Home Depot and The International Chamber of Commerce met The Fed in The Hague.",
    "President Reagan, Prime Minister Boris Johnson and Secretary of State Antony Blinken spoke.",
    "Crystal Palace beat Newcastle United 2-1; Atari Corp and CBS Inc, Boston Corp fell.",
    "MOSCOW (Reuters) - WASHINGTON (AP) - RT @user: Kid Cudi Opens Up About Cocaine Use",
    "S\u00e3o Paulo's Mayor met Jos\u00e9 Mar\u00eda in Z\u00fcrich; U.S. Army and St. Louis Cardinals.",
    "UK-based Soviet-era Coca-Cola, Bristol-Myers and T-Mobile; ex-Miami Dolphins, Calif. and Mich.",
    "her husband Seal and his wife Laura, Japanese officials and Italian diplomats, Dmitry Peskov.",
    "Paris, Ohio, Texas, Rome, Italy and Berlin, Germany, the U.S., Mr. Smith, Dr. Jones.",
    "of the United Nations, and the European Union, by Apple Inc., von der Leyen, de Gaulle.",
    "Ships reached Jervis Bay, Other Territories, Australia; the Embassy of Canada, Washington, DC.",
]


def test_the_spotter_cuts_its_rarer_cases_as_its_reference_does(full_kb):
    from linkers.spotter import spot
    kb = open_kb(str(full_kb))
    with reference_paths():
        expected = [[asdict(sp) for sp in spot(text, kb)] for text in SPOTTER_CORNERS]
    got = [[asdict(sp) for sp in spot(text, kb)] for text in SPOTTER_CORNERS]
    assert sum(map(len, expected)) > 60
    for text, a, b in zip(SPOTTER_CORNERS, got, expected):
        assert a == b, text


def test_a_small_similarity_block_gives_the_numpy_blocks_numbers_bit_for_bit(full_kb, monkeypatch):
    """Every similarity block of every public text and news sentence, and of long synthetic
    articles (blocks of up to ``SIMILARITY_BLOCK`` mentions), built with numpy, with dicts (the
    pure-Python fallback's) and with the typed kernels (the compiled module's) from the same
    beliefs: the same support and raw sums (repr: every bit), and the same ``alike``."""
    from linkers import ranker

    kb = open_kb(str(full_kb))
    articles = long_articles(kb)
    blocks = []
    fast = ranker._Similarity._block

    def kept(rk, rows, lo, hi, only):
        copied = [[ranker.Scored(c.eid, c.score) for c in row] for row in rows]
        for mine, theirs in zip(copied, rows):
            for a, b in zip(mine, theirs):
                a.prob = b.prob
        blocks.append((rk, copied, lo, hi, only))
        return fast(rk, rows, lo, hi, only)

    monkeypatch.setattr(ranker._Similarity, "_block", staticmethod(kept))
    for _name, text in corpus_texts() + articles:
        link(text, kb)
    assert len(blocks) > 700
    # a block of more than 128 mentions: its totals are numpy's sums of two halves
    assert max(hi - lo for _rk, _rows, lo, hi, _only in blocks) > 128
    small = 0
    for rk, rows, lo, hi, only in blocks:
        numpy_block = ranker._SimilarityBlock(rk, rows, lo, hi, only)
        small += sum(min(len(rows[i]), ranker.TOP_K_COHERENCE) for i in range(lo, hi)) <= ranker.SMALL_SIMILARITY_BLOCK
        for kind in (ranker._SmallSimilarityBlock, ranker._TypedSimilarityBlock):
            python_block = kind(rk, rows, lo, hi, only)
            if only is None:
                assert repr(python_block.support(rows)) == repr(numpy_block.support(rows))
                assert repr(getattr(python_block, "raw", {})) == repr(getattr(numpy_block, "raw", {}))
            mentions = sorted({i for i, _eid in numpy_block.index})
            for i, eid in numpy_block.index:
                if only is None or i in only:
                    for threshold in (0.0, ranker.LIST_SIMILARITY, 0.2):
                        assert python_block.alike(i, eid, mentions, threshold) == numpy_block.alike(i, eid, mentions, threshold)
    assert small > len(blocks) // 2         # most blocks of short texts take the small-block path


def test_typed_coherence_gives_the_dicts_support_bit_for_bit(full_kb, monkeypatch):
    """Every coherence block of every public text and news sentence, and of long synthetic
    articles: the typed kernel (the compiled module's) and the dicts (the pure-Python
    fallback's) give the same support from the same beliefs, every bit (repr)."""
    from linkers import ranker

    kb = open_kb(str(full_kb))
    articles = long_articles(kb)
    blocks = []
    fast = ranker.DocumentRanker._block_coherence

    def kept(rk, rows, lo, hi):
        blocks.append((rk, rk._placings(rows, lo, hi), lo, hi))
        return fast(rk, rows, lo, hi)

    monkeypatch.setattr(ranker.DocumentRanker, "_block_coherence", kept)
    for _name, text in corpus_texts() + articles:
        link(text, kb)
    assert len(blocks) > 700
    supported = 0
    for rk, where, lo, hi in blocks:
        dicts = rk._dict_coherence(where)
        assert repr(sorted(rk._typed_coherence(where, lo, hi).items())) == repr(sorted(dicts.items()))
        supported += any(dicts.values())
    assert supported > len(blocks) // 4     # support compared, not only empty answers


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_typed_coherence_gives_the_dicts_support_on_made_up_blocks(data):
    """Blocks no text gave: beliefs of 0.0 and subnormal ones, pairs linked both ways or twice,
    a candidate sharing hubs with many, the shared weight off or on. Typed kernel and dicts
    agree, every bit."""
    from linkers import ranker

    mentions = data.draw(st.integers(1, 8))
    eids = data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=8, unique=True))
    belief = st.sampled_from([0.0, 5e-324, 1e-300, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0)
    where = {}
    for eid in eids:
        at = data.draw(st.lists(st.integers(0, mentions - 1), min_size=1, max_size=mentions, unique=True))
        where[eid] = [(10 + i, data.draw(belief)) for i in sorted(at)]      # the block starts at 10
    direct, met = [], {}
    if len(eids) > 1:
        pair = st.tuples(st.sampled_from(eids), st.sampled_from(eids)).filter(lambda p: p[0] != p[1])
        direct = data.draw(st.lists(pair, max_size=12))
        for a in data.draw(st.lists(st.sampled_from(eids), unique=True)):
            others = data.draw(st.lists(st.sampled_from([b for b in eids if b != a]), min_size=1, unique=True))
            met[a] = {b: data.draw(st.floats(0.05, 1.0)) for b in others}
    rk = ranker.DocumentRanker.__new__(ranker.DocumentRanker)
    rk.w = ranker.Weights(shared=data.draw(st.sampled_from([0.0, 0.7, 3.0])))
    rk._linked, rk._link_numbers = {tuple(where): (direct, met)}, {}
    dicts = rk._dict_coherence(where)
    assert repr(sorted(rk._typed_coherence(where, 10, 10 + mentions).items())) == repr(sorted(dicts.items()))


def test_given_name_candidates_with_sets_are_the_numpy_ones_on_every_text(full_kb, monkeypatch):
    """A short text asks for the people of a given name with sets, a long one with numpy: on
    every public text and news sentence, both give the same people in the same order."""
    from linkers import ranker

    kb = open_kb(str(full_kb))
    rankers = []
    fast = ranker.DocumentRanker._given_name_candidates

    def kept(rk):
        rankers.append(rk)
        return fast(rk)

    monkeypatch.setattr(ranker.DocumentRanker, "_given_name_candidates", kept)
    for _name, text in corpus_texts():
        link(text, kb)
    asked = [rk for rk in rankers if any(sp.given for sp in rk.spans)]
    assert len(asked) > 200
    found = 0
    for rk in asked:
        monkeypatch.setattr(ranker, "SMALL_GIVEN_POOL", 10**9)
        with_sets = fast(rk)
        monkeypatch.setattr(ranker, "SMALL_GIVEN_POOL", -1)
        assert with_sets == fast(rk)
        found += any(with_sets)
    assert found >= 5        # people found, not only empty answers compared


def test_numpy_sum_is_numpys_row_sum_bit_for_bit():
    import numpy as np
    from linkers.ranker import _numpy_sum

    rng = np.random.default_rng(7)
    for _ in range(3000):
        a = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 129)))) * 10.0 ** rng.integers(-3, 3)
        assert [_numpy_sum(row) for row in a.tolist()] == a.sum(axis=1).tolist()
    for _ in range(300):    # beyond 128 values numpy adds the sums of two halves
        a = rng.random((3, int(rng.integers(129, 1100)))) * 10.0 ** rng.integers(-3, 3)
        assert [_numpy_sum(row) for row in a.tolist()] == a.sum(axis=1).tolist()


def test_reference_paths_swaps_every_fast_path_for_its_reference_and_back():
    fast = {(id(owner), name): owner.__dict__[name] for owner, name, _ref in fastpath._REFERENCES}
    assert len(fast) >= 4
    with reference_paths():
        for owner, name, reference in fastpath._REFERENCES:
            assert owner.__dict__[name] is reference is not fast[(id(owner), name)]
    for owner, name, _ref in fastpath._REFERENCES:
        assert owner.__dict__[name] is fast[(id(owner), name)]


def test_the_text_memo_never_answers_for_another_text():
    """``normalize``/``tokenize`` keep the last text's answer by identity: another text (short
    or long, ASCII or not, or a surface keyed in between) gets its own answer, and a caller
    changing its token list changes no later answer."""
    from linkers.text import alias_key
    a = "He said \u201cyes\u201d in Paris.\n" * 20
    b = a.replace("Paris", "Rome ")
    short, long_ascii = "Said `yes`\tin\r\nParis.", "Said `yes`\tin\r\nParis. " * 60
    for text in (a, b, a, short, long_ascii, short, "", a):
        assert normalize(text) == normalize_reference(text)
        assert alias_key("Z\u00fcrich\u2019s") == "zurich's"
        assert normalize(text) == normalize_reference(text)
    toks = tokenize(normalize(a))
    toks.append((0, 0))
    assert tokenize(normalize(a)) == [m.span() for m in TOKEN_RE.finditer(normalize(a))]
    assert tokenize(normalize(b)) == [m.span() for m in TOKEN_RE.finditer(normalize(b))]


def test_the_token_pattern_normalisation_and_utf16_offsets_give_what_they_gave_as_first_written():
    """``TOKEN_RE`` is written to test a word character once, ``normalize`` scans a non-ASCII
    text for what it replaces, ``Utf16Offsets`` finds astral characters by a pattern: the same
    tokens, texts and offsets as the originals on every public text, news sentence and some
    made to be awkward."""
    import re
    from linkers.text import Utf16Offsets
    original_tokens = re.compile(r"(?:\w\.){2,}|\w+(?:['&.\-]\w+)*")
    awkward = ["U.S. A.B.C. a.b S.p.A. U.S.A U.S.-based AT&T O'Neill e.g. i.e.x x.y.z. a..b a.b.c.d.",
               "Thermo-Print Yahoo.com 3.5 U.K.'s _a_ __ a_.b_. \u00e9.\u00e8. \u2163.\u2164.",
               "\u201cZ\u00fcrich\u201d\u00a0\u2014 caf\u00e9 \U0001F600 \U0001F600x \U00010000\U0010FFFF \ud7ff\ue000\uffff\t\r\n",
               "lone \ud800 and \udfff surrogates", "\ud83d\ude00 \U0001F600 \ud800"]
    for text in [text for _name, text in corpus_texts()] + awkward:
        norm = normalize(text)
        assert norm == normalize_reference(text)
        assert [m.span() for m in TOKEN_RE.finditer(norm)] == [m.span() for m in original_tokens.finditer(norm)]
        astral = [i for i, c in enumerate(text) if ord(c) > 0xFFFF]
        assert [Utf16Offsets(text)(k) for k in range(len(text) + 1)] == [k + sum(i < k for i in astral)
                                                                          for k in range(len(text) + 1)]


def test_alias_keys_of_ascii_spans_in_a_text_with_curly_quotes_and_accents_are_the_reference_keys():
    """``spotter._key_of`` slices the lower-cased text for ASCII spans of any text whose
    lower-cased copy keeps its offsets; every span from a token's start to a token's end keys
    as before."""
    from linkers.spotter import _key_of, _key_of_reference
    texts = ["\u201cThe U.S.  Federal Reserve\u201d met S\u00e3o Paulo's Mayor in Z\u00fcrich, Ohio.",
             "\u212aelvin and \u0130stanbul: \u03a3\u03a9\u03a3 Inc. (AP) - Jos\u00e9  Mar\u00eda of Acme Corp",
             "Plain ASCII text, with U.S. dots and  two spaces."]
    for text in texts:
        norm = normalize(text)
        fast, reference = _key_of(norm), _key_of_reference(norm)
        spans = [m.span() for m in TOKEN_RE.finditer(norm)]
        for s, _e in spans:
            for _s, e in spans:
                if e > s:
                    assert fast(s, e) == reference(s, e), (text, norm[s:e])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("Ab z'-_\n.\u00e9\u00c9\u2014"), max_size=200), st.data())
def test_a_capitalised_word_before_a_span_is_found_from_the_words_start_as_from_the_texts(text, data):
    """``demonyms._capitalised_before`` reads back from the end only: for every end, the answer
    of the pattern searched from the text's start (its reference), over texts of long runs of
    word characters, spaces, newlines and the characters a word may hold."""
    from linkers.demonyms import _capitalised_before, _capitalised_before_reference
    end = data.draw(st.integers(0, len(text)))
    assert _capitalised_before(text, end) == _capitalised_before_reference(text, end)
    long_word = "W" + "x" * 100 + " "
    for t in (long_word, "a " + long_word, "-" + long_word, long_word + "\n", "\u00e9" + long_word):
        assert _capitalised_before(t, len(t)) == _capitalised_before_reference(t, len(t)), t


# The patterns as first written (a leading look-ahead or ``\b``), and the module attribute that
# now holds each one rewritten to start with its first character.
ORIGINAL_PATTERNS = {
    ("linkers.metonymy", "SCORE_RE"): r"(?=\d)(?<![\d.,/-])\d{1,3}\s?[-\u2013]\s?\d{1,3}(?![\d.,/-])",
    ("linkers.demonyms", "_ADJECTIVE_WORD_RE"):
        r"\b[A-Z][a-z]{2,}(?:ian|an|ese|ish|i|n|ic)\b",
}


# "the Treasury": ``metonymy._the_names`` finds what this finds (the offsets of its group).
THE_NAME_AS_FIRST_WRITTEN = r"\b[Tt]he ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})\b"


def _same_matches(text: str) -> None:
    import importlib
    import re
    from linkers.demonyms import _ADJECTIVE_WORD_RE, _adjective_word_scan, adjective_words
    from linkers.metonymy import _the_names
    from linkers.metonymy import SCORE_RE, _score_scan, has_score
    spans = [m.span() for m in _ADJECTIVE_WORD_RE.finditer(text)]
    assert _adjective_word_scan(text) == spans and adjective_words(text) == spans, text[:80]
    score = SCORE_RE.search(text) is not None
    assert _score_scan(text) == score and has_score(text) == score, text[:80]
    assert _the_names(text) == [m.span(1) for m in re.finditer(THE_NAME_AS_FIRST_WRITTEN, text)], text[:80]
    for (module, name), original in ORIGINAL_PATTERNS.items():
        now = getattr(importlib.import_module(module), name)
        assert [(m.span(), m.groups()) for m in now.finditer(text)] == \
            [(m.span(), m.groups()) for m in re.compile(original).finditer(text)], (name, text[:80])
        for pos in (1, 2, len(text) // 2):       # a search from inside the text: the character before counts
            ours, first = now.search(text, pos), re.compile(original).search(text, pos)
            assert (ours and (ours.span(), ours.groups())) == (first and (first.span(), first.groups())), name


def test_the_patterns_rewritten_to_start_with_their_first_character_match_as_first_written():
    """``SCORE_RE`` and ``_ADJECTIVE_WORD_RE`` start with the character class of their first
    character (the word boundary or look-ahead moved into a look-behind after it), which lets
    the regex engine skip to candidates, ``metonymy._the_names`` searches for the literal
    "he " and checks the "T" before it, and ``demonyms.adjective_words`` and
    ``metonymy.has_score`` scan the characters (compiled): the same matches and groups as the
    patterns as first written, on every public text and news sentence and on made-up ones."""
    from linkers.demonyms import ADJECTIVE_ENDINGS
    assert "|".join(ADJECTIVE_ENDINGS) in ORIGINAL_PATTERNS[("linkers.demonyms", "_ADJECTIVE_WORD_RE")]
    made_up = ["The Treasury said; the Supreme Court of the Land. Other The Hague, bathe Them, xThe Fed",
               "he Fed. she The Hague, The Then Hague Fed, _The Fed, \u00e9the Fed, 1The Fed, the the Fed",
               "Italian, Kenyan and Iraqi officials; aKenyan; 3-1, 2 \u2013 0, 1.2-3, 12-345, 101-99, 7-7 win",
               "\u00c9Kenyan _Kenyan 9Italian the Treasury 10-9/ 1,2-3 -4-5 (2-1) \u0663-\u0661",
               "Kenyan", "Iraqi.", "Oman Iran Ian Ani Bic Chinese Polish Ese Ish Yemeni_ KenyanX Kenyan\u00e9 McKenyan",
               "2-1", "won 3 - 0.", "1234-5 12-1234 1-2, 1-2/ .1-2 a1-2 1-\u00a02 1\u00a0\u20132 \u0661-\u0662 7-", "9 -"]
    for text in [text for _name, text in corpus_texts()] + made_up:
        _same_matches(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("Tthe AKzianscI12-\u2013.,/_\u00c9\u00e9\u0663\n\u00a0"), max_size=80))
def test_the_rewritten_patterns_match_as_first_written_on_generated_text(text):
    _same_matches(text)


def _scan_matches_the_pattern(text: str) -> None:
    from linkers.text import _scan_tokens
    assert _scan_tokens(text, True) == [m.span() for m in TOKEN_RE.finditer(text)], text[:80]
    assert _scan_tokens(text, False) == TOKEN_RE.findall(text), text[:80]


def test_the_token_scan_finds_what_the_token_pattern_finds():
    """``text._scan_tokens`` (what ``tokenize`` and ``token_words`` run compiled) against
    ``TOKEN_RE`` on every public text and news sentence, raw and normalised, and on the
    awkward cases of abbreviations, joiners and Unicode word characters. Run under both the
    compiled and the pure-Python build, it checks the scan's logic and its C form."""
    awkward = ["U.S. A.B.C. a.b S.p.A. U.S.A U.S.-based AT&T O'Neill e.g. i.e.x x.y.z. a..b a.b.c.d.",
               "Thermo-Print Yahoo.com 3.5 U.K.'s _a_ __ a_.b_. \u00e9.\u00e8. \u2163.\u2164. a-'b a'-b",
               "\u201cZ\u00fcrich\u201d\u00a0\u2014 caf\u00e9 \U0001F600x \U00010000\U0010FFFF \u0663.\u0661. \t\r\n",
               "", ".", "a", "a.", "a.b", "a.b.", "-a-", "a-", "a--b", "a&", "'a'", "x.y.z"]
    for text in [text for _name, text in corpus_texts()] + awkward:
        _scan_matches_the_pattern(text)
        _scan_matches_the_pattern(normalize(text))


def test_the_token_scan_takes_every_code_point_for_a_word_character_as_the_pattern_does():
    """The scan answers an ASCII character by its range and asks the Unicode tables for the
    rest: every code point (surrogates, digits of other scripts, combining marks included),
    alone between spaces and as a word's second character, is a word character to the scan
    exactly when it is one to the pattern's ``\\w``."""
    every = [chr(c) for c in range(0x110000)]
    _scan_matches_the_pattern(" ".join(every))
    _scan_matches_the_pattern(" a".join(every))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9_.'&- \u00e9\u0663\u2163\U0001F600\u00a0\n"), max_size=40))
def test_the_token_scan_finds_what_the_token_pattern_finds_on_generated_text(text):
    _scan_matches_the_pattern(text)


def test_reference_paths_reach_the_spotters_references_through_link(monkeypatch):
    """Compiled, a function the module calls as cpdef is called in C, past the attribute that
    ``reference_paths`` swaps: the spotter's swapped functions stay plain ``def`` so that
    linking under ``reference_paths`` really runs ``_spot_reference`` and
    ``_nil_spans_reference``."""
    from linkers import spotter
    called = set()

    def counting(name, reference):
        def wrapper(*args):
            called.add(name)
            return reference(*args)
        return wrapper

    swapped = [(owner, name, counting(name, reference) if owner is spotter else reference)
               for owner, name, reference in fastpath._REFERENCES]
    monkeypatch.setattr(fastpath, "_REFERENCES", swapped)
    with reference_paths():
        link("Angela Merkel met Foo Barrington in Paris. Barrington said so.", open_kb())
    assert {"_spot", "_nil_spans"} <= called


def _token_flags_as_first_written(words: list[str]) -> tuple[list[bool], list[bool]]:
    from linkers.spotter import STOPWORDS, _capitalised_word
    cap, lower_stop = [], []
    for w in words:
        if w.islower():
            cap.append(False)
            lower_stop.append(w in STOPWORDS)
        else:
            cap.append(_capitalised_word(w))
            lower_stop.append(False)
    return cap, lower_stop


def test_the_token_flags_skip_the_name_test_only_for_words_it_would_refuse():
    """``spotter._token_flags`` asks ``_capitalised_word`` only of a word starting with a
    capital, a digit or a non-ASCII character, and looks every word up among the stop words:
    the same flags as asking every word that is not all lower case, because every stop word is
    written in lower case. On every token of the public texts and news sentences, and on words
    made to be awkward (a digit before a capital, a lower-case start before one, no letter)."""
    from linkers.spotter import STOPWORDS, _token_flags
    assert all(w.islower() for w in STOPWORDS)
    awkward = ["", "iPhone", "eBay", "3M", "3m", "1990s", "42", "_", "'s", "s", "The", "THE", "the",
               "\u00c9cole", "\u00e9cole", "\u01c5ungla", "\u2163", "\u0663", "US", "it", "IT", "-"]
    words = awkward + [norm[s:e] for _name, text in corpus_texts()
                       for norm in (normalize(text),) for s, e in tokenize(norm)]
    assert _token_flags(words) == _token_flags_as_first_written(words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aZ3_'\u00e9\u00c9\u01c5\u2163 "), max_size=6), max_size=20))
def test_the_token_flags_match_as_first_written_on_generated_words(words):
    from linkers.spotter import _token_flags
    assert _token_flags(words) == _token_flags_as_first_written(words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([-3.5, -1.0, 0.0, 0.25, 0.25, 2.0, 7.0]), max_size=25))
def test_the_likeliest_candidates_are_the_stable_sorts_first(scores):
    """``ranker._likeliest`` picks a short row's best by insertion, not by sorting: the same
    candidates in the same order as the stable sort (ties in row order), for rows of every
    length up to past where it takes ``heapq.nlargest``."""
    from linkers.ranker import TOP_K_COHERENCE, Scored, _likeliest
    row = [Scored(eid, score) for eid, score in enumerate(scores)]
    expected = sorted(row, key=lambda c: -c.score)[:TOP_K_COHERENCE] if len(row) > 1 else row
    assert [c.eid for c in _likeliest(row)] == [c.eid for c in expected]


@given(st.lists(st.text(alphabet=st.sampled_from("Ab z'.&-_\n,\u00e9\u00c9\u2014\u2019sS0"), max_size=24), max_size=12))
@settings(max_examples=300, deadline=None)
def test_the_names_content_words_are_the_union_of_each_names_own(names):
    """``DocumentRanker`` takes the content words of a text's names as the union of each name's
    (memoised per name), where it once tokenised the names joined by spaces: the same set for
    any names, dots, apostrophes, hyphens and spaces at their ends included."""
    from linkers.ranker import _name_words, content_words
    assert set().union(*(_name_words(name) for name in names)) == content_words(" ".join(names))


def test_a_text_just_spotted_gives_its_words_at_its_normal_forms_tokens():
    """``token_words`` reads a text at the tokens of its normal form (just made by spotting)
    when normalising made no joiner: the words ``TOKEN_RE`` finds in the text itself, for every
    public text and news sentence, and texts whose curly apostrophes, dashes or backticks
    normalising turns into joiners (there the text is scanned again)."""
    from linkers.text import _ONE_TO_ONE, token_words
    assert [c for c, to in _ONE_TO_ONE.items() if to in "'-" and c < 128] == [ord("`")]
    awkward = ["O\u2019Neill met Thermo\u2013Print in Z\u00fcrich\u00a0\u201cnow\u201d", "Don`t stop\tU.S.\nA.B.",
               "AT&T\u2014Yahoo.com \u2212 x\u2010y", "plain ASCII, U.S. and O'Neill", "", "`", "\u2019s"]
    for text in [text for _name, text in corpus_texts()] + awkward:
        tokenize(normalize(text))           # as spotting leaves the memos
        assert token_words(text) == TOKEN_RE.findall(text)
        assert token_words(text) == TOKEN_RE.findall(text)      # and again, memos as they are


@given(st.lists(st.tuples(st.integers(1, 6), st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0)),
                min_size=1, max_size=8),
       st.dictionaries(st.integers(1, 6), st.sampled_from([0.0, 0.5, 1.5]) | st.floats(0.0, 3.0)))
@settings(max_examples=300, deadline=None)
def test_the_most_voted_reading_is_the_one_max_picks(row, votes):
    """``decide`` picks each mention's reading by its name's votes, then its belief: the
    candidate ``max`` with a key tuple picks, ties to the first, for any row and votes."""
    from linkers.linker import _most_voted
    from linkers.ranker import Scored
    cands = [Scored(eid, 0.0, prob) for eid, prob in row]
    assert _most_voted(cands, votes) is max(cands, key=lambda c: (votes.get(c.eid, 0.0), c.prob))


@given(st.lists(st.sampled_from([" ", "said", "says", "will", "told", "_", "x", "S", "9", ",", "\u00e9",
                                  "\u0663", "\n", "plans", "Said"]), max_size=12).map("".join),
       st.integers(-2, 40))
@settings(max_examples=400, deadline=None)
def test_the_agent_verb_scan_is_the_pattern(text, at):
    """``agent_verb_after`` (a scan when compiled) says what ``AGENT_VERB_AFTER.match`` does, at
    any position of any text: a space, a verb of ``AGENT_VERBS``, then no word character."""
    from linkers.spotter import AGENT_VERB_AFTER, _agent_verb_at, agent_verb_after
    expected = AGENT_VERB_AFTER.match(text, at) is not None
    assert _agent_verb_at(text, at) == expected and agent_verb_after(text, at) == expected


def test_the_agent_verb_scan_is_the_pattern_at_every_offset_of_the_public_texts():
    from linkers.spotter import AGENT_VERB_AFTER, _agent_verb_at
    for _name, text in corpus_texts():
        for at in range(len(text) + 1):
            assert _agent_verb_at(text, at) == (AGENT_VERB_AFTER.match(text, at) is not None)


def _money_words_agree(text: str) -> None:
    from linkers.business import _money_word_scan, _money_words_at, _money_words_at_reference
    expected = _money_words_at_reference(text)
    assert _money_word_scan(text) == expected and _money_words_at(text) == expected, text[:80]


def test_the_money_word_scan_finds_what_the_find_passes_find():
    """``business._money_words_at`` (a scan of the characters when compiled) gives the offsets
    the ``str.find`` passes give, on every public text and news sentence and on made-up ones:
    whole words only, "$" anywhere, capitals, digits and a letter whose lower case is longer."""
    made_up = ["Shares of Acme rose; stockholders sold stock$5 million5 $ billion-dollar SALES",
               "\u0130stanbul profits: quarterly dividend, \u00e9stake stake_ (merger) takeover.",
               "revenue", "$", "", "the forecast", "5billion 5 billion \u0663shares"]
    for text in [text for _name, text in corpus_texts()] + made_up:
        _money_words_agree(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["shares", "Stock", "STAKE", "sales", "$", "million", "x", "9", "_", "-",
                                 " ", ".", "\u00e9", "\u0130", "\u0663", "\n", "\u00df"]), max_size=12).map("".join))
def test_the_money_word_scan_finds_what_the_find_passes_find_on_generated_text(text):
    _money_words_agree(text)
