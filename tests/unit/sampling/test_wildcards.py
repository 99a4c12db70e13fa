"""X-Ray wildcard patterns: ``*``, ``?``, case, whole-string matching, and speed on bad patterns."""

import functools

from aws_xray_sdk.core.utils.search_pattern import wildcard_match
from hypothesis import given
from hypothesis import strategies as st

from fluoroscope.sampling import WildcardPattern


def reference_match(pattern: str, text: str) -> bool:
    """Wildcard matching written the obvious way: recursion over case-folded strings."""
    p, t = pattern.casefold(), text.casefold()

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(p):
            return j == len(t)
        if p[i] == "*":
            return match(i + 1, j) or (j < len(t) and match(i, j + 1))
        return j < len(t) and (p[i] == "?" or p[i] == t[j]) and match(i + 1, j + 1)

    return match(0, 0)


# Small alphabets make matches likely; they include case pairs, regex metacharacters, the NUL
# that RuleSet joins attributes with, and characters whose case-folded form is longer.
PATTERNS = st.text(alphabet="ab*?AB.[\\\x00ßİ", max_size=10)
TEXTS = st.text(alphabet="abAB.[\\\x00ßSsİi", max_size=12)
ASCII_PATTERNS = st.text(alphabet="abAB*?./-", max_size=10)
ASCII_TEXTS = st.text(alphabet="abAB./-", max_size=12)


def matches(pattern: str, text: str) -> bool:
    return WildcardPattern(pattern).matches(text)


def test_star_matches_any_run_of_characters_including_none():
    """``*`` stands for zero or more characters anywhere in the pattern."""
    assert matches("api-*", "api-")
    assert matches("api-*", "api-orders")
    assert matches("*-api", "orders-api")
    assert matches("/orders/*/items", "/orders/42/items")


def test_question_mark_matches_exactly_one_character():
    """``?`` stands for one character, never zero or two."""
    assert matches("v?", "v2")
    assert not matches("v?", "v")
    assert not matches("v?", "v10")


def test_case_is_ignored_on_both_sides():
    """Pattern and text are compared without regard to case."""
    assert matches("GET", "get")
    assert matches("checkout-*", "CHECKOUT-EU")


def test_the_whole_string_must_match():
    """A pattern that fits only part of the text is no match."""
    assert not matches("api", "api-orders")
    assert not matches("orders", "api-orders")


def test_an_empty_pattern_matches_only_the_empty_string():
    """The empty pattern is not a wildcard."""
    assert matches("", "")
    assert not matches("", "x")


def test_a_lone_star_matches_everything():
    """``*`` matches any text, the empty one included."""
    assert matches("*", "")
    assert matches("*", "anything at all\n")


def test_regex_metacharacters_are_literal():
    """Only ``*`` and ``?`` are special; dots, brackets and backslashes match themselves."""
    assert matches("a.b", "a.b")
    assert not matches("a.b", "axb")
    assert matches("[x]+\\", "[x]+\\")


def test_consecutive_stars_act_as_one():
    """``**`` matches what ``*`` matches."""
    assert matches("a**b", "ab")
    assert matches("a**b", "axxb")


def test_many_stars_against_a_long_text_finish_at_once():
    """A pattern built to backtrack is matched in linear time, not exponential."""
    pattern = "*a" * 20 + "*b"

    assert not matches(pattern, "a" * 20_000)


@given(PATTERNS, TEXTS)
def test_compiled_patterns_agree_with_the_reference_matcher(pattern, text):
    """The compiled matcher and the recursive reference give the same answer on any input."""
    assert matches(pattern, text) == reference_match(pattern, text)


@given(ASCII_PATTERNS, ASCII_TEXTS)
def test_compiled_patterns_agree_with_the_stock_sdk_on_ascii(pattern, text):
    """For ASCII, matching is exactly the stock SDK's ``wildcard_match``."""
    assert matches(pattern, text) == wildcard_match(pattern, text)


def test_case_folding_follows_unicode_not_single_characters():
    """``ß`` matches ``SS`` because case is compared by Unicode case folding (the stock SDK
    compares one lowered character at a time and would not)."""
    assert matches("straße", "STRASSE")
