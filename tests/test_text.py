"""Text handling never moves an offset: what the linker reports as ``start``/``end`` points at the
mention in the text the user sent, whatever quotes, dashes, spaces or emoji it contains."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from linkers.text import Utf16Offsets, alias_key, normalize, tokenize


def js_index(text: str, i: int) -> int:
    """What JavaScript's String index of code point ``i`` is: UTF-16 code units before it."""
    return len(text[:i].encode("utf-16-le")) // 2


def test_normalize_straightens_quotes_dashes_and_spaces_without_changing_length():
    text = "\u201cNATO\u2019s\u201d chief\u00a0said \u2014 in Kyiv \u2013 \u2018not yet\u2019\u202fto\u2009Ukraine"
    norm = normalize(text)
    assert norm == "\"NATO's\" chief said - in Kyiv - 'not yet' to Ukraine"
    assert len(norm) == len(text)
    assert norm.index("Ukraine") == text.index("Ukraine")


def test_normalize_leaves_plain_text_and_emoji_alone():
    text = "Macron met Putin \U0001F600 in Paris."
    assert normalize(text) == text


@given(st.text())
def test_normalize_maps_each_code_point_to_one_code_point(text):
    norm = normalize(text)
    assert len(norm) == len(text)
    for original, normalised in zip(text, norm):
        assert normalised == original or normalised in "'\"- "


def test_alias_key_treats_dotted_and_undotted_abbreviations_alike():
    assert alias_key("U.S.") == alias_key("U.S") == alias_key("US") == "us"
    assert alias_key("Washington, D.C.") == alias_key("Washington, DC")
    assert alias_key("Tenn.") == alias_key("Tenn")


def test_alias_key_ignores_case_and_extra_whitespace():
    assert alias_key("NATO") == alias_key("nato") == alias_key("Nato")
    assert alias_key("  North   Atlantic\u00a0Treaty\tOrganization ") == "north atlantic treaty organization"


def test_alias_key_straightens_curly_apostrophes_and_composes_accents():
    assert alias_key("People\u2019s Republic of China") == alias_key("People's Republic of China")
    assert alias_key("Kyi\u0308v") == alias_key("Ky\u00efv")       # decomposed i + diaeresis == \u00ef


def test_tokens_keep_abbreviations_and_inner_punctuation_together():
    text = "The U.S. and Thermo-Print GmbH met O'Neill of AT&T."
    assert [text[s:e] for s, e in tokenize(normalize(text))] == \
        ["The", "U.S.", "and", "Thermo-Print", "GmbH", "met", "O'Neill", "of", "AT&T"]


def test_utf16_offsets_count_emoji_before_a_mention_twice():
    text = "\U0001F1FA\U0001F1E6 Ukraine \U0001F600 and NATO"
    to_utf16 = Utf16Offsets(text)
    start = text.index("NATO")
    assert start == 17
    assert to_utf16(start) == js_index(text, start) == 20
    assert to_utf16(text.index("Ukraine")) == 5
    assert all(to_utf16(i) == js_index(text, i) for i in range(len(text) + 1))


def test_utf16_offsets_are_code_points_for_text_inside_the_bmp():
    text = "\u201cMacron\u201d \u2014 Fran\u00e7ois, \u041a\u0438\u0457\u0432, \u5317\u4eac"
    to_utf16 = Utf16Offsets(text)
    assert all(to_utf16(i) == i for i in range(len(text) + 1))


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_utf16_offsets_match_javascript_indices_for_any_text(text):
    to_utf16 = Utf16Offsets(text)
    assert [to_utf16(i) for i in range(len(text) + 1)] == [js_index(text, i) for i in range(len(text) + 1)]
