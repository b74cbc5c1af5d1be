"""Plate matching against bookings: OCR confusions tolerated with a score, symmetric, never across countries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartgate.domain.matching import CONFUSION_GROUPS, fold, fold_plate, match_plates
from smartgate.domain.plates import plate_key

CONFUSABLE = "".join(CONFUSION_GROUPS)


@pytest.mark.parametrize(
    ("read", "booked", "kind", "score"),
    [
        ("29A-123.45", "29A 12345", "exact", 1.0),  # printed forms differ only
        ("云A·88K21", "云A88K21", "exact", 1.0),
        ("29A-I23.45", "29A-123.45", "fuzzy", 0.92),  # 1/I
        ("29A-1Z3.4S", "29A-123.45", "fuzzy", 0.84),  # 2/Z and 5/S
        ("29A-0O8.45", "29A-DQB.45", "none", 0.0),  # three confusions: too many
        ("29A-123.46", "29A-123.45", "none", 0.0),  # 6 and 5 are not confused
        ("29A-123.4", "29A-123.45", "none", 0.0),  # a missing character is not a confusion
        ("云A8BK21", "云A88K21", "fuzzy", 0.92),
    ],
)
def test_matches(read: str, booked: str, kind: str, score: float) -> None:
    m = match_plates(read, None, booked, None)
    assert (m.kind, m.score) == (kind, score)


def test_countries_must_agree() -> None:
    assert match_plates("29A-123.45", "VN", "29A-123.45", "CN").score == 0


vn = st.from_regex(r"\A[1-9][0-9][A-Z][0-9]{5}\Z")
cn = st.tuples(st.sampled_from("云桂粤京沪"), st.from_regex(r"\A[A-Z][A-Z0-9]{5}\Z")).map("".join)


@st.composite
def confused(draw: st.DrawFn, plates: st.SearchStrategy[str]) -> tuple[str, str]:
    """A plate and a copy with up to three characters swapped for an OCR confusion."""
    key = draw(plates)
    chars = list(key)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(chars) - 1))
        group = next((g for g in CONFUSION_GROUPS if chars[i] in g), None)
        if group:
            chars[i] = draw(st.sampled_from(group))
    return key, "".join(chars)


@given(confused(vn | cn), st.sampled_from(["VN", "CN", None]), st.sampled_from(["VN", "CN", None]))
def test_matching_is_symmetric(pair: tuple[str, str], ca: str | None, cb: str | None) -> None:
    a, b = pair
    assert match_plates(a, ca, b, cb) == match_plates(b, cb, a, ca)


@given(confused(vn | cn))
def test_a_match_means_the_same_plate_up_to_confusions(pair: tuple[str, str]) -> None:
    a, b = pair
    m = match_plates(a, None, b, None)
    if m.score > 0:
        assert fold_plate(a) == fold_plate(b)
        assert m.score == 1.0 or plate_key(a) != plate_key(b)
    differing = sum(x != y for x, y in zip(plate_key(a), plate_key(b), strict=True))
    assert (m.score > 0) == (differing <= 2)


@given(vn, cn)
def test_a_vietnamese_plate_never_matches_a_chinese_one(a: str, b: str) -> None:
    assert match_plates(a, None, b, None).score == 0
    assert match_plates(a, "VN", b, "CN").score == 0
    assert fold(a) != fold(b)
