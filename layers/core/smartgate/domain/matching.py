"""Matching a plate read to a booked plate, tolerating the usual OCR confusions.

Both plates go through :func:`smartgate.domain.plates.plate_key` first, which removes the
differences of printed form (``29A-123.45`` / ``29A 12345``, ``云A·88K21`` / ``云A88K21``). Then
characters that plate OCR confuses — 0/O/D/Q, 8/B, 1/I/L, 5/S, 2/Z, 6/G (and Đ/D) — fold onto one
representative: two plates with the same :func:`fold` may be the same plate misread. The score says
how sure: 1.0 for the same key, less for each position that differs only by a confusion. The score
is symmetric, and plates of different countries never match (a Chinese plate starts with a province
character that no Vietnamese plate has, and the countries must agree too).

A fuzzy match never clears a vehicle on its own: the rule set asks for agreeing evidence
(``evidence.agreeing``) or an officer's eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from smartgate.domain.plates import plate_key
from smartgate.schemas import Country

CONFUSION_GROUPS = ("0ODQĐ", "8B", "1IL", "5S", "2Z", "6G")
_FOLD = {ch: group[0] for group in CONFUSION_GROUPS for ch in group}
PENALTY = 0.08
"""Score lost per confused position."""
MAX_CONFUSED = 2
"""More confused positions than this is not taken for the same plate."""


def fold(key: str) -> str:
    """The key with confusable characters folded: ``29A12345`` and ``Z9A1Z345`` fold alike."""
    return "".join(_FOLD.get(ch, ch) for ch in key)


def fold_plate(text: str) -> str:
    """:func:`fold` of the plate's key (any printed or read form)."""
    return fold(plate_key(text))


@dataclass(frozen=True)
class PlateMatch:
    score: float  # 0: no match; 1.0: the same plate
    confused: int  # positions that differ by an OCR confusion

    @property
    def exact(self) -> bool:
        return self.score == 1.0

    @property
    def kind(self) -> str:
        return "exact" if self.exact else "fuzzy" if self.score > 0 else "none"


NO_MATCH = PlateMatch(0.0, 0)


@lru_cache(maxsize=8192)
def match_plates(
    read: str, read_country: Country | str | None, booked: str, booked_country: Country | str | None
) -> PlateMatch:
    """How well a read plate matches a booked one (symmetric in its two plates)."""
    if read_country is not None and booked_country is not None and str(read_country) != str(booked_country):
        return NO_MATCH
    try:
        a, b = plate_key(read), plate_key(booked)
    except ValueError:
        return NO_MATCH
    if a == b:
        return PlateMatch(1.0, 0)
    if len(a) != len(b) or fold(a) != fold(b):
        return NO_MATCH
    confused = sum(x != y for x, y in zip(a, b, strict=True))
    if confused > MAX_CONFUSED:
        return NO_MATCH
    return PlateMatch(round(1.0 - PENALTY * confused, 3), confused)
