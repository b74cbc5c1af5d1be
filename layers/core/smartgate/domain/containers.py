"""ISO 6346 container codes: owner code (3 letters), category (U/J/Z), 6-digit serial, check digit.

The check digit is the sum of each of the first ten characters' value times 2**position, modulo 11,
modulo 10 (a remainder of 10 prints as 0; ISO 6346 advises owners not to issue such serials).
Letters count 10..38 skipping multiples of 11 (A=10, B=12, ... K=21, L=23 ...).

``correct_container`` may change one character, and only when the check digit proves it: the
character must be a known OCR confusion, the change must make the code well-formed, and exactly one
such change may make the check digit right. By default only a character of the wrong kind (a letter
among the digits or the reverse) is changed. Anything else is reported as read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_CODE = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")
_SEPARATORS = re.compile(r"[\s\-.]+")
LENGTH = 11
CATEGORIES = "UJZ"


def _letter_values() -> dict[str, int]:
    values, value = {}, 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:  # 11, 22, 33 are skipped
            value += 1
        values[letter] = value
        value += 1
    return values


_LETTERS = _letter_values()

_CONFUSED_PAIRS = (
    "0O",
    "0D",
    "0Q",
    "OD",
    "OQ",
    "1I",
    "1L",
    "IL",
    "17",
    "2Z",
    "38",
    "4A",
    "5S",
    "56",
    "6G",
    "68",
    "7T",
    "8B",
    "80",
    "UV",
    "MN",
    "CG",
    "EF",
    "PR",
)
CONFUSIONS: dict[str, str] = {}
"""Characters OCR mixes up on container doors, both ways: 0/O/D/Q, 1/I/L, 2/Z, 5/S, 8/B, 6/G, ..."""
for _pair in _CONFUSED_PAIRS:
    CONFUSIONS[_pair[0]] = CONFUSIONS.get(_pair[0], "") + _pair[1]
    CONFUSIONS[_pair[1]] = CONFUSIONS.get(_pair[1], "") + _pair[0]


def normalise_container(code: str) -> str:
    """Upper case without spaces, dashes or dots (``"CSQU 305438-3"`` -> ``"CSQU3054383"``)."""
    return _SEPARATORS.sub("", code).upper()


def check_digit(first_ten: str) -> int:
    """The ISO 6346 check digit of an owner code + category + serial (10 characters)."""
    if len(first_ten) != 10 or not _CODE.fullmatch(first_ten + "0"):
        raise ValueError(f"{first_ten!r} is not 3 letters, U/J/Z and 6 digits")
    total = sum((_LETTERS.get(ch) or int(ch)) * 2**i for i, ch in enumerate(first_ten))
    return total % 11 % 10


@dataclass(frozen=True)
class ContainerValidation:
    """A container code read, part by part. ``expected_check_digit`` is None when the first ten
    characters are not well-formed; ``reason`` names what is wrong when not ``check_digit_ok``."""

    text: str
    code: str
    well_formed: bool
    check_digit_ok: bool
    owner: str = ""
    category: str = ""
    serial: str = ""
    check_digit: int | None = None
    expected_check_digit: int | None = None
    reason: str | None = None


def _shape_problem(code: str) -> str | None:
    if len(code) != LENGTH:
        return f"a container code has 11 characters, got {len(code)}"
    owner, category, serial, digit = code[:3], code[3], code[4:10], code[10]
    if not (owner.isascii() and owner.isalpha()):
        return f"owner code must be 3 letters, got {owner!r}"
    if category not in CATEGORIES:
        return f"category must be U, J or Z, got {category!r}"
    if not (serial.isascii() and serial.isdigit()):
        return f"serial must be 6 digits, got {serial!r}"
    if not (digit.isascii() and digit.isdigit()):
        return f"check digit must be a digit, got {digit!r}"
    return None


def validate_container(code: str) -> ContainerValidation:
    """Split a container code into its parts and check its check digit."""
    norm = normalise_container(code)
    problem = _shape_problem(norm)
    if problem is not None:
        expected = None
        if len(norm) >= 10 and _CODE.fullmatch(norm[:10] + "0"):
            expected = check_digit(norm[:10])
        return ContainerValidation(code, norm, False, False, expected_check_digit=expected, reason=problem)
    expected = check_digit(norm[:10])
    printed = int(norm[10])
    ok = printed == expected
    return ContainerValidation(
        code,
        norm,
        True,
        ok,
        norm[:3],
        norm[3],
        norm[4:10],
        printed,
        expected,
        None if ok else f"check digit is {printed}, expected {expected}",
    )


@lru_cache(maxsize=4096)
def container_check_digit_ok(container_no: str) -> bool:
    """True when the code has the ISO 6346 shape and its last digit is the right check digit."""
    return validate_container(container_no).check_digit_ok


@dataclass(frozen=True)
class ContainerCorrection:
    """The result of :func:`correct_container`.

    ``text`` is the corrected code when ``corrected``, else the read (normalised) unchanged.
    ``candidates`` are all single-confusion changes that would make the check digit right, in the
    order tried (least confident position first when confidences were given); a correction is made
    only when there is exactly one. ``position`` is the changed character's index when corrected.
    """

    text: str
    read: str
    corrected: bool
    check_digit_ok: bool
    candidates: tuple[str, ...] = ()
    position: int | None = None


def _fits(position: int, ch: str) -> bool:
    if position < 3:
        return "A" <= ch <= "Z"
    if position == 3:
        return ch in CATEGORIES
    return "0" <= ch <= "9"


def correct_container(
    code: str, char_confidences: Sequence[float] | None = None, *, allow_same_kind: bool = False
) -> ContainerCorrection:
    """Correct a single OCR confusion in a container code when, and only when, the check digit proves it.

    A candidate changes one character to one it is often confused with (:data:`CONFUSIONS`) that
    fits its position (letters in the owner code, U/J/Z for the category, digits in the serial and
    check digit) so that the whole code is well-formed. The read is corrected only if exactly one
    candidate makes the check digit right; otherwise it is returned as read, ``corrected`` False.

    By default only a character of the wrong kind (a letter among the digits or the reverse) is
    changed: its kind gives away where the confusion is, and the check digit then proves its value.
    Codes with two characters of the wrong kind are never corrected (no single change makes them
    well-formed). A well-formed code whose check digit fails is reported as read unless
    ``allow_same_kind`` is set: then digit-for-digit and letter-for-letter confusions are tried at
    every position, still requiring a unique candidate. Nothing then tells which position was
    misread, and a read with two such confusions is one confusion away from some other valid code
    often enough (about a third of them, in random trials) that it is off by default. With
    ``char_confidences`` (one per character of the normalised code) the least confident positions
    are tried first, which orders ``candidates``; uniqueness is required all the same.
    """
    read = normalise_container(code)
    if validate_container(read).check_digit_ok:
        return ContainerCorrection(read, read, False, True)
    if len(read) != LENGTH:
        return ContainerCorrection(read, read, False, False)
    wrong_kind = [i for i, ch in enumerate(read) if not _fits(i, ch)]
    if len(wrong_kind) > 1:
        return ContainerCorrection(read, read, False, False)
    positions = wrong_kind or (list(range(LENGTH)) if allow_same_kind else [])
    if char_confidences is not None and len(char_confidences) == LENGTH:
        positions.sort(key=lambda i: (char_confidences[i], i))
    candidates: list[tuple[str, int]] = []
    for i in positions:
        for alternative in CONFUSIONS.get(read[i], ""):
            if not _fits(i, alternative):
                continue
            changed = read[:i] + alternative + read[i + 1 :]
            if validate_container(changed).check_digit_ok:
                candidates.append((changed, i))
    found = tuple(c for c, _ in candidates)
    if len(candidates) == 1:
        changed, position = candidates[0]
        return ContainerCorrection(changed, read, True, True, found, position)
    return ContainerCorrection(read, read, False, False, found)
