"""The one dial-pattern matcher used by caller rules, outbound routes and DIDs."""

from __future__ import annotations

import pytest

from klapka.routing.dialpattern import PatternError, compile_pattern, pattern_matches


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("1X", ["10", "15", "19"], ["1", "100", "20", "1a"]),
        ("Z", [str(d) for d in range(1, 10)], ["0", "10"]),
        ("N", [str(d) for d in range(2, 10)], ["0", "1"]),
        ("NXXXXXXXX", ["601234567", "212345678"], ["012345678", "112345678", "60123456"]),
        ("[1-5]", ["1", "3", "5"], ["0", "6"]),
        ("[135-7]", ["1", "3", "5", "6", "7"], ["2", "4", "8"]),
        ("0090.", ["00901", "0090123456789"], ["0090", "0091"]),
        ("0090!", ["0090", "00901", "00901234"], ["009", "0091"]),
        ("+420NXXXXXXXX", ["+420601234567"], ["420601234567", "00420601234567"]),
        ("*2", ["*2"], ["2", "*22"]),
        ("x", ["7"], ["77"]),  # the wildcards work in lower case too
    ],
)
def test_wildcards_sets_and_repeats(
    pattern: str, matching: list[str], not_matching: list[str]
) -> None:
    for number in matching:
        assert pattern_matches(pattern, number), f"{pattern} should match {number}"
    for number in not_matching:
        assert not pattern_matches(pattern, number), f"{pattern} should not match {number}"


def test_a_pattern_must_match_the_whole_number() -> None:
    assert pattern_matches("123", "123")
    assert not pattern_matches("123", "1234")
    assert not pattern_matches("123", "0123")
    assert not pattern_matches("12X", "1234")


def test_dot_and_bang_also_match_star_hash_and_plus() -> None:
    assert pattern_matches("9.", "9*1#")
    assert pattern_matches("!", "+420")


def test_an_exact_number_is_a_pattern_matching_only_itself() -> None:
    assert compile_pattern("+420530335500").is_exact
    assert not compile_pattern("+4205303355XX").is_exact
    assert not compile_pattern("12[3]").is_exact


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("12[3", "'[' at position 3 is never closed"),
        ("12]", "']' at position 3 has no matching '['"),
        ("1[]", "empty set '[]' at position 2"),
        ("[a-c]", "set at position 1 may contain only digits and ranges"),
        ("[5-1]", "bad range '5-1' in set at position 1"),
        ("", "must not be empty"),
        ("12 34", "must not contain spaces"),
    ],
)
def test_a_bad_pattern_says_why(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern)
    assert str(refused.value) == reason
