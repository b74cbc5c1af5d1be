"""Plate formats: the labelled real plates validate, invalid reads are reported with the part that is wrong
and never rewritten, and validity does not depend on separators or case."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from smartgate.domain.plates import (
    CN_AUTHORITY_LETTERS,
    CN_ENERGY_LETTERS,
    CN_PROVINCES,
    CN_SERIAL_CHARACTERS,
    FORMATS_BY_NAME,
    PLATE_FORMATS,
    VN_PROVINCE_CODES,
    VN_SERIES_LETTERS,
    VN_SPECIAL_SERIES,
    plate_format_valid,
    plate_key,
    validate_plate,
)
from smartgate.schemas import Country

LABELS = Path(os.environ.get("SMARTGATE_PLATE_LABELS", "/work/shared/data/plates/dev/labels.csv"))


def _labelled() -> list[object]:
    if not LABELS.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"labelled plates not found at {LABELS}"))]
    with LABELS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [pytest.param(row, id=f"{row['file']}:{row['plate']}") for row in rows]


# --------------------------------------------------------------------------- labelled real plates


@pytest.mark.parametrize("row", _labelled())
def test_every_labelled_plate_validates_and_its_display_round_trips(row: dict[str, str]) -> None:
    # Given a real plate as printed, labelled with its country and number of rows
    text, country, rows = row["plate"], Country(row["country"]), int(row["rows"])

    # When it is validated without saying the country
    result = validate_plate(text)

    # Then it is valid, of the labelled country and row count, and its canonical form round-trips
    assert result.valid, result.reason
    assert result.country is country and result.rows == rows
    assert result.key == plate_key(text)
    assert plate_key(result.display) == result.key
    again = validate_plate(result.display)
    assert again.valid and again.display == result.display and again.format_name == result.format_name
    assert validate_plate(result.key).valid  # the bare key too
    if country is Country.VN:  # the labels are written in the canonical VN form
        assert result.display == text


def test_labelled_examples_in_the_issue_have_the_expected_formats() -> None:
    # Given the examples quoted in the issue, Then each gets its format and canonical form
    expected = {
        "51F-882.70": ("VN_CAR", "51F-882.70"),
        "29-MD1 504.66": ("VN_MOTORBIKE", "29-MD1 504.66"),
        "30F 510.10": ("VN_CAR", "30F 510.10"),
        "29-U2 7914": ("VN_MOTORBIKE", "29-U2 7914"),
        "67-M2 3789": ("VN_MOTORBIKE", "67-M2 3789"),
        "14C-12345": ("VN_CAR", "14C-123.45"),
        "29A-1234": ("VN_CAR", "29A-1234"),
        "皖AYL375": ("CN_STANDARD", "皖A·YL375"),
        "冀D5L690": ("CN_STANDARD", "冀D·5L690"),
    }
    for text, (name, display) in expected.items():
        result = validate_plate(text)
        assert (result.format_name, result.display) == (name, display), text


@pytest.mark.parametrize("fmt", PLATE_FORMATS, ids=lambda f: f.name)
def test_each_format_accepts_its_own_example(fmt) -> None:  # type: ignore[no-untyped-def]
    # Given the documented example of a format, When validated with its country
    result = validate_plate(fmt.example, fmt.country)
    # Then it is that format, printed exactly as the example
    assert result.valid and result.format_name == fmt.name and result.display == fmt.example


@pytest.mark.parametrize(
    ("text", "name", "display"),
    [
        ("29LD-123.45", "VN_SPECIAL", "29LD-123.45"),
        ("29KT12345", "VN_SPECIAL", "29KT-123.45"),
        ("29R-012.34", "VN_TRAILER", "29R-012.34"),
        ("80-011-NG-01", "VN_FOREIGN", "80-011-NG-01"),
        ("41291QT123", "VN_FOREIGN", "41-291-QT-123"),
        ("29-AB 123.45", "VN_MOTORBIKE_LL", "29-AB 123.45"),
        ("29-MĐ1 504.66", "VN_MOTORBIKE", "29-MĐ1 504.66"),
        ("桂A12345D", "CN_NEW_ENERGY", "桂A·12345D"),
        ("粤B D12345", "CN_NEW_ENERGY", "粤B D12345"),
        ("粤BA12345", "CN_NEW_ENERGY", "粤B·A12345"),  # 2022 extension: A B C E also battery-electric
        ("冀A·1234挂", "CN_TRAILER", "冀A·1234挂"),
        ("冀A1234挂", "CN_TRAILER", "冀A 1234挂"),  # trailer plates are two-row rear plates
        ("粤Z·1234澳", "CN_HK_MACAO", "粤Z·1234澳"),
        ("京A0001警", "CN_POLICE", "京A·0001警"),
        ("沪A·1234领", "CN_CONSULATE", "沪A·1234领"),
        ("粤A1234学", "CN_COACH", "粤A·1234学"),
        ("使224001", "CN_EMBASSY", "使224·001"),
    ],
)
def test_special_series_and_formats(text: str, name: str, display: str) -> None:
    result = validate_plate(text)
    assert (result.valid, result.format_name, result.display) == (True, name, display)


# --------------------------------------------------------------------------- invalid reads


@pytest.mark.parametrize(
    ("text", "country", "part"),
    [
        ("00A-123.45", None, "province code 00 does not exist"),
        ("10A-123.45", "VN", "province code 10 does not exist"),
        ("13C-123.45", "VN", "province code 13 does not exist"),
        ("42C-123.45", "VN", "province code 42 does not exist"),
        ("A9C-123.45", "VN", "province code must be two digits"),
        ("29-1A 123.45", "VN", "series must be letters"),
        ("29I-123.45", "VN", "series letter I is not used"),
        ("29O-123.45", "VN", "series letter O is not used"),
        ("29W-123.45", "VN", "series letter W is not used"),
        ("29ABC-123.45", "VN", "series ABC is too long"),
        ("29A-123", "VN", "4 or 5 digits, got 3"),
        ("29A-12B.45", "VN", "registration number must be digits"),
        ("29A-000.00", "VN", "000.00 is never issued"),
        ("29-A0 123.45", "VN", "series digit must be 1-9"),
        ("41-29-NG-01", "VN", "3-digit nationality code"),
        ("41-291-NG-1", "VN", "2- or 3-digit order number"),
        ("29C-123.45", "CN", "CN plate needs a province character"),
        ("A12345", "CN", "CN plate needs a province character"),
        ("日A·12345", "CN", "is not a Chinese province abbreviation"),
        ("皖I·YL375", "CN", "issuing-authority code"),
        ("皖1·YL375", None, "issuing-authority code"),
        ("皖A·YL37", "CN", "serial must be 5 characters"),
        ("皖A·YLO75", "CN", "letters I and O are not used"),
        ("粤B·X12345", "CN", "new-energy serial"),
        ("京Z·1234港", "CN", "issued as 粤Z"),
        ("冀A·123挂", "CN", "serial before 挂 must be 4 characters"),
        ("使01457", "CN", "embassy plate 使 needs 6 digits"),
        ("皖A·YL375", "VN", "province code must be two digits"),
    ],
)
def test_invalid_reads_are_reported_with_the_part_and_not_fixed(text: str, country: str | None, part: str) -> None:
    # When an invalid read is validated
    result = validate_plate(text, country)

    # Then it is invalid, the reason names the wrong part, and the read is kept exactly as read
    assert not result.valid and result.format_name is None
    assert result.reason is not None and part in result.reason, result.reason
    assert result.display == text.strip() and result.key == plate_key(text)


def test_a_read_without_characters_is_invalid_not_an_error() -> None:
    result = validate_plate(" -. ")
    assert not result.valid and result.key == "" and result.reason == "no characters in the read"


def test_country_is_detected_when_not_given() -> None:
    assert validate_plate("29C-123.45").country is Country.VN
    assert validate_plate("云A·88K21").country is Country.CN
    assert validate_plate("皖A·YL37").country is Country.CN  # invalid, but a province character says CN
    assert validate_plate("13C-123.45").country is None  # fits no VN format: not claimed as VN
    assert validate_plate("29C-123.45", "CN").country is Country.CN  # a given country is kept


@pytest.mark.parametrize(
    ("plate", "country", "valid"),
    [
        ("29C-123.45", "VN", True),
        ("29LD-123.45", Country.VN, True),
        ("云A·12345", "CN", True),
        ("桂A12345D", "CN", True),
        ("ABC", "VN", False),
        ("29C-123.45", "CN", False),
        ("---", "VN", False),
        ("29-MD1 504.66", "VN", True),
        ("皖AYL375", "VN", False),
    ],
)
def test_plate_format_valid_keeps_its_contract(plate: str, country: str, valid: bool) -> None:
    assert plate_format_valid(plate, country) is valid


# --------------------------------------------------------------------------- layout


def test_the_layout_of_the_read_chooses_between_formats_sharing_a_key() -> None:
    # Given the key 67M23789, which is a car (67M-237.89) or a motorbike (67-M2 3789)
    assert plate_key("67M-237.89") == plate_key("67-M2 3789") == "67M23789"
    # Then the separators of the read choose, and the bare key gives the car (freight comes first)
    assert validate_plate("67-M2 3789").format_name == "VN_MOTORBIKE"
    assert validate_plate("67M2 3789").format_name == "VN_MOTORBIKE"
    assert validate_plate("67M-237.89").format_name == "VN_CAR"
    assert validate_plate("67M23789").format_name == "VN_CAR"


def test_rows_choose_the_printed_layout() -> None:
    assert validate_plate("30F51010", rows=2).display == "30F 510.10"
    assert validate_plate("30F 510.10", rows=1).display == "30F-510.10"
    assert validate_plate("冀A12345", rows=2).display == "冀A 12345"
    assert validate_plate("冀A12345").display == "冀A·12345"
    assert validate_plate("79N179117", rows=1).display == "79-N1 791.17"  # motorbikes have two rows only


# --------------------------------------------------------------------------- properties

_vn_number = st.one_of(
    st.integers(1, 99_999).map(lambda n: f"{n:05d}"), st.integers(1, 9_999).map(lambda n: f"{n:04d}")
)
_province = st.sampled_from(sorted(VN_PROVINCE_CODES))


def _dotted(number: str) -> str:
    return f"{number[:3]}.{number[3:]}" if len(number) == 5 else number


@st.composite
def vn_plates(draw: st.DrawFn) -> tuple[str, str]:
    """A printed Vietnamese plate and its format, built from the format rules."""
    province, number = draw(_province), _dotted(draw(_vn_number))
    kind = draw(st.sampled_from(["car", "special", "motorbike", "motorbike_ll"]))
    if kind == "car":
        return f"{province}{draw(st.sampled_from(VN_SERIES_LETTERS))}-{number}", "VN_CAR"
    if kind == "special":
        return f"{province}{draw(st.sampled_from(sorted(VN_SPECIAL_SERIES)))}-{number}", "VN_SPECIAL"
    if kind == "motorbike":
        series = draw(st.sampled_from(VN_SERIES_LETTERS)) + str(draw(st.integers(1, 9)))
        return f"{province}-{series} {number}", "VN_MOTORBIKE"
    series = draw(st.sampled_from(VN_SERIES_LETTERS)) + draw(st.sampled_from(VN_SERIES_LETTERS))
    assume(series not in VN_SPECIAL_SERIES)
    return f"{province}-{series} {number}", "VN_MOTORBIKE_LL"


@st.composite
def cn_plates(draw: st.DrawFn) -> tuple[str, str]:
    """A printed Chinese plate and its format, built from the format rules."""
    head = draw(st.sampled_from(CN_PROVINCES)) + draw(st.sampled_from(CN_AUTHORITY_LETTERS))
    serial = st.text(alphabet=CN_SERIAL_CHARACTERS, min_size=1, max_size=1)
    digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
    kind = draw(st.sampled_from(["standard", "small_nev", "large_nev", "trailer"]))
    if kind == "standard":
        return f"{head}·{''.join(draw(serial) for _ in range(5))}", "CN_STANDARD"
    energy = draw(st.sampled_from(CN_ENERGY_LETTERS))
    if kind == "small_nev":
        return f"{head}·{energy}{draw(serial)}{''.join(draw(digits) for _ in range(4))}", "CN_NEW_ENERGY"
    if kind == "large_nev":
        return f"{head}·{''.join(draw(digits) for _ in range(5))}{energy}", "CN_NEW_ENERGY"
    return f"{head} {''.join(draw(serial) for _ in range(4))}挂", "CN_TRAILER"


@given(st.one_of(vn_plates(), cn_plates()))
def test_generated_plates_validate_to_themselves(plate: tuple[str, str]) -> None:
    # Given a plate printed in its canonical form
    display, name = plate
    # When it is validated
    result = validate_plate(display)
    # Then it is valid, of that format, printed the same, and its key is the key of the print
    assert result.valid, result.reason
    assert (result.format_name, result.display) == (name, display)
    assert plate_key(display) == result.key


@given(
    st.sampled_from(PLATE_FORMATS).flatmap(lambda f: st.tuples(st.just(f), st.from_regex(f.pattern, fullmatch=True)))
)
def test_any_key_a_format_matches_is_valid_and_its_display_round_trips(case) -> None:  # type: ignore[no-untyped-def]
    fmt, key = case
    assume(fmt.match(key) is not None)  # the regex alone allows an all-zero VN number
    result = validate_plate(key, fmt.country)
    assert result.valid and result.key == key
    assert plate_key(result.display) == key and validate_plate(result.display).display == result.display


_PLATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ" + CN_PROVINCES + "挂警学领港澳使日"
_SEPARATOR = st.sampled_from(["", "", "", " ", "-", ".", "·", "  "])


@given(
    st.one_of(
        vn_plates().map(lambda p: plate_key(p[0])),
        cn_plates().map(lambda p: plate_key(p[0])),
        st.text(alphabet=_PLATE_CHARS, min_size=1, max_size=11),
    ),
    st.data(),
)
def test_separators_and_case_never_change_validity(key: str, data: st.DataObject) -> None:
    # Given a key, and the same characters with separators between them and random case
    decorated = "".join(data.draw(_SEPARATOR) + (ch.lower() if data.draw(st.booleans()) else ch) for ch in key)
    # When both are validated
    plain, fancy = validate_plate(key), validate_plate(decorated)
    # Then they agree on validity, key, country and reason
    assert plate_key(decorated) == key
    assert (fancy.valid, fancy.key, fancy.country) == (plain.valid, plain.key, plain.country)
    assert fancy.reason == plain.reason


@given(st.text(max_size=14))
def test_an_invalid_read_is_never_rewritten(text: str) -> None:
    result = validate_plate(text)
    if not result.valid:
        assert result.display == text.strip() and result.reason


def test_format_names_are_unique() -> None:
    assert len(FORMATS_BY_NAME) == len(PLATE_FORMATS)
