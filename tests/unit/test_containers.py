"""ISO 6346 container codes: check digit, validation part by part, and correction of one OCR confusion
only when the check digit proves it."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from smartgate.domain.containers import (
    CONFUSIONS,
    check_digit,
    container_check_digit_ok,
    correct_container,
    validate_container,
)

# Letter values (A=10, skipping 11, 22, 33): A10 B12 C13 D14 E15 F16 G17 H18 I19 J20 K21 L23 M24 N25 O26
# P27 Q28 R29 S30 T31 U32 V34 W35 X36 Y37 Z38. Check digit = sum(value * 2**position) mod 11 mod 10.
KNOWN_GOOD = [
    # ISO 6346's own example. C13*1 + S30*2 + Q28*4 + U32*8 + 3*16 + 0*32 + 5*64 + 4*128 + 3*256 + 8*512
    # = 13 + 60 + 112 + 256 + 48 + 0 + 320 + 512 + 768 + 4096 = 6185; 6185 = 11*562 + 3 -> 3
    "CSQU3054383",
    # BIC's example. B12 + I19*2 + C13*4 + U32*8 + 1*16 + 2*32 + 3*64 + 4*128 + 5*256 + 6*512
    # = 12 + 38 + 52 + 256 + 16 + 64 + 192 + 512 + 1280 + 3072 = 5494; 5494 = 11*499 + 5 -> 5
    "BICU1234565",
    # M24 + S30*2 + K21*4 + U32*8 + 6*16 + 0*32 + 1*64 + 1*128 + 6*256 + 7*512
    # = 24 + 60 + 84 + 256 + 96 + 0 + 64 + 128 + 1536 + 3584 = 5832; 5832 = 11*530 + 2 -> 2
    "MSKU6011672",
]


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    owner = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3))
    first_ten = owner + draw(st.sampled_from("UJZ")) + f"{draw(st.integers(0, 999_999)):06d}"
    return first_ten + str(check_digit(first_ten))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("code", KNOWN_GOOD)
def test_known_good_codes_pass(code: str) -> None:
    result = validate_container(code)
    assert result.well_formed and result.check_digit_ok and result.reason is None
    assert (result.owner, result.category, result.serial) == (code[:3], code[3], code[4:10])
    assert result.check_digit == result.expected_check_digit == int(code[10])
    assert container_check_digit_ok(code)


def test_separators_and_case_are_ignored() -> None:
    assert validate_container("csqu 305438-3").code == "CSQU3054383"
    assert container_check_digit_ok("CSQU 305438 3")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("CSQU3054384", "check digit is 4, expected 3"),
        ("CSQU305438", "11 characters, got 10"),
        ("CS1U3054383", "owner code must be 3 letters"),
        ("CSQX3054383", "category must be U, J or Z"),
        ("CSQU3O54383", "serial must be 6 digits"),
        ("CSQU305438X", "check digit must be a digit"),
        ("1234567890X", "owner code must be 3 letters"),
    ],
)
def test_bad_codes_say_what_is_wrong(code: str, reason: str) -> None:
    result = validate_container(code)
    assert not result.check_digit_ok and result.reason is not None and reason in result.reason
    assert container_check_digit_ok(code) is False


def test_a_malformed_check_digit_still_reports_the_expected_one() -> None:
    assert validate_container("CSQU305438X").expected_check_digit == 3


def test_check_digit_rejects_malformed_input() -> None:
    with pytest.raises(ValueError):
        check_digit("CSQ3054383")


@given(valid_codes(), st.integers(4, 10), st.integers(1, 9))
def test_every_single_digit_change_breaks_the_check_digit(code: str, position: int, shift: int) -> None:
    # Given a valid code whose check digit is not 0 (a remainder of 10 also prints as 0, so a code with
    # check digit 0 can hide one change: CSQU0000070 and CSQU9000070 both pass — remainders 10 and 0)
    assume(code[10] != "0" or position == 10)
    # When one digit of the serial or the check digit itself is changed
    changed = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]
    # Then the check digit no longer matches
    assert not container_check_digit_ok(changed)


def test_the_documented_remainder_ten_blind_spot() -> None:
    assert container_check_digit_ok("CSQU0000070") and container_check_digit_ok("CSQU9000070")


# --------------------------------------------------------------------------- correction


@pytest.mark.parametrize(
    ("read", "position"),
    [
        ("CSQU3O54383", 5),  # 0 read as O
        ("CSQU3D54383", 5),  # 0 read as D
        ("C5QU3054383", 1),  # S read as 5
        ("CS0U3054383", 2),  # Q read as 0
        ("CSQU30543B3", 9),  # 8 read as B
        ("CSQU305A383", 7),  # 4 read as A
        ("BICUI234565", 4),  # 1 read as I
        ("MSKU601167Z", 10),  # 2 read as Z in the check digit
    ],
)
def test_a_single_confusion_of_the_wrong_kind_is_corrected(read: str, position: int) -> None:
    # Given a read with one character of the wrong kind, from the confusion table
    # When it is corrected
    result = correct_container(read)
    # Then exactly one change makes the check digit right, and it is made
    assert result.corrected and result.check_digit_ok and result.position == position
    assert result.candidates == (result.text,) and result.read == read
    assert validate_container(result.text).check_digit_ok


def test_a_valid_code_is_left_alone() -> None:
    result = correct_container("CSQU3054383")
    assert (result.text, result.corrected, result.check_digit_ok, result.candidates) == ("CSQU3054383", False, True, ())


def test_a_well_formed_code_with_a_wrong_check_digit_is_reported_as_read_by_default() -> None:
    # Given 8 read as 3 in the serial: the code is well-formed, nothing shows where the confusion is
    result = correct_container("CSQU3054333")
    assert (result.text, result.corrected, result.check_digit_ok) == ("CSQU3054333", False, False)
    assert result.candidates == ()
    # When same-kind confusions are allowed, the unique candidate is taken
    allowed = correct_container("CSQU3054333", allow_same_kind=True)
    assert allowed.corrected and allowed.text == "CSQU3054383" and allowed.position == 9


@pytest.mark.parametrize(
    ("read", "candidates"),
    [
        # C read as G: CSQU3054383 fixes it, and so does 8 -> 0 at position 9 (GSQU3054303)
        ("GSQU3054383", {"CSQU3054383", "GSQU3054303"}),
        # 8 read as 0: three codes one confusion away pass
        ("CSQU3054303", {"CSQU3054383", "CSQU3054803", "GSQU3054303"}),
    ],
)
def test_a_confusion_with_several_fixes_is_not_corrected(read: str, candidates: set[str]) -> None:
    result = correct_container(read, allow_same_kind=True)
    assert not result.corrected and not result.check_digit_ok and result.text == read
    assert set(result.candidates) == candidates


def test_char_confidences_order_the_candidates_but_do_not_break_ties() -> None:
    # Given the ambiguous read with position 9 the least confident
    confidences = [0.99] * 11
    confidences[9] = 0.2
    result = correct_container("CSQU3054303", confidences, allow_same_kind=True)
    # Then position 9's fix is tried first, but with three candidates nothing is corrected
    assert result.candidates[0] == "CSQU3054383" and not result.corrected


def test_two_confusions_of_the_wrong_kind_are_never_corrected_example() -> None:
    result = correct_container("CSQU3O543B3")
    assert not result.corrected and result.text == "CSQU3O543B3" and result.candidates == ()


def _confusable_positions(code: str, kind_changes: bool) -> list[int]:
    """Positions where a confusion changes the character's kind (letter <-> digit) or keeps it."""
    return [
        i
        for i, ch in enumerate(code)
        if any((alt.isdigit() != ch.isdigit()) == kind_changes for alt in CONFUSIONS.get(ch, ""))
    ]


def _confuse(code: str, i: int, kind_changes: bool, data: st.DataObject) -> str:
    ch = code[i]
    options = [alt for alt in CONFUSIONS[ch] if (alt.isdigit() != ch.isdigit()) == kind_changes]
    return code[:i] + data.draw(st.sampled_from(options)) + code[i + 1 :]


@given(valid_codes(), st.data())
def test_two_confusions_of_the_wrong_kind_are_never_corrected(code: str, data: st.DataObject) -> None:
    # Given a valid code with two characters replaced by look-alikes of the other kind
    positions = _confusable_positions(code, kind_changes=True)
    assume(len(positions) >= 2)
    i, j = data.draw(st.lists(st.sampled_from(positions), min_size=2, max_size=2, unique=True))
    read = _confuse(_confuse(code, i, True, data), j, True, data)
    # When it is corrected, with or without same-kind confusions
    for allow in (False, True):
        result = correct_container(read, allow_same_kind=allow)
        # Then nothing is corrected: no single change makes it well-formed
        assert not result.corrected and result.text == read and not result.check_digit_ok


@given(valid_codes(), st.data(), st.booleans())
def test_a_single_confusion_is_only_ever_corrected_back_to_the_original(
    code: str, data: st.DataObject, allow: bool
) -> None:
    # Given a valid code with one character replaced by a look-alike
    positions = [i for i, ch in enumerate(code) if CONFUSIONS.get(ch)]
    assume(positions)
    i = data.draw(st.sampled_from(positions))
    read = code[:i] + data.draw(st.sampled_from(CONFUSIONS[code[i]])) + code[i + 1 :]
    assume(not container_check_digit_ok(read))
    # When it is corrected
    result = correct_container(read, allow_same_kind=allow)
    # Then it is either corrected to the original, or left as read with the original among the candidates
    # (or, same-kind confusions not allowed, with no candidates)
    if result.corrected:
        assert result.text == code and result.candidates == (code,)
    else:
        assert result.text == read and not result.check_digit_ok
        assert code in result.candidates or (not allow and validate_container(read).well_formed)
