"""Licence plate text: the canonical key used for matching, and the Vietnamese and Chinese formats.

``plate_key`` turns any printed or read form into the key that bookings are matched on.
``validate_plate`` says whether a read is a plate of a known format and gives its canonical printed
form, or says which part is wrong. It never changes a character: an invalid read is reported as
invalid, as read, with the reason (correcting OCR confusions is the reader's job, among its own
hypotheses, and ``merge`` votes over frames; nothing here guesses).

Vietnam (Circular 58/2020/TT-BCA, replaced by 24/2023/TT-BCA and 79/2024/TT-BCA):

- ``VN_CAR``      ``29A-123.45`` / ``29A-1234``; two-row (short) plate ``30F 510.10``. Province code,
  one series letter, a 5-digit (``000.01``..``999.99``) or older 4-digit number.
- ``VN_TRAILER``  series ``R`` (trailers and semi-trailers), otherwise as a car: ``29R-012.34``.
- ``VN_SPECIAL``  two-letter series of special owners on a car-style plate: ``LD`` (foreign-invested
  enterprises, foreign-hired vehicles), ``KT`` (army enterprises doing economic work), ``DA``
  (foreign-invested project boards), ``MK`` (tractors), ``TĐ`` (pilot domestic vehicles), ``HC``
  (restricted-range cars): ``29LD-123.45``.
- ``VN_FOREIGN``  foreign missions and foreigners: province, 3-digit nationality/organisation code,
  ``NG`` (diplomatic), ``QT`` (international organisations), ``CV`` (technical-administrative staff)
  or ``NN`` (other foreign organisations and individuals), then a 2- or 3-digit order: ``41-291-NG-01``.
- ``VN_MOTORBIKE`` two rows, letter + digit series (``79-N1 791.17``, ``67-M2 3789``) or two letters
  + digit (electric motorbikes ``29-MĐ1 504.66``, often read ``MD1``).
- ``VN_MOTORBIKE_LL`` two rows, two-letter series without digit: mopeds under 50 cm³ and, since
  Circular 24/2023, all newly registered motorbikes (``29-AB 123.45``).

Series letters come from the 20 letters A B C D E F G H K L M N P S T U V X Y Z (never I, J, O, Q, W;
R only on trailers), plus Đ inside ``MĐ``/``TĐ``. Province codes: :data:`VN_PROVINCE_CODES`.

China (GA 36-2018 and the 2022 extension of small new-energy plates):

- ``CN_STANDARD``  province abbreviation, issuing-authority letter (A–Z without I, O), 5 letters or
  digits (no I, O): ``皖A·YL375``. Yellow truck/bus plates have the same text (the colour is not in
  the text); their rear plate has two rows, province and letter on top: ``冀A 12345``.
- ``CN_NEW_ENERGY`` 6 characters after the letter: small vehicles ``D``/``F`` (since 2022 also
  ``A B C E`` / ``G H J K``), a letter or digit, 4 digits (``粤B·D12345``); large vehicles 5 digits
  then the same energy letter (``桂A·12345D``).
- ``CN_TRAILER`` 4 characters + 挂 (``冀A 1234挂``, a two-row rear plate); ``CN_POLICE`` + 警,
  ``CN_COACH`` + 学, ``CN_CONSULATE`` + 领; ``CN_HK_MACAO`` ``粤Z·1234港`` / ``粤Z·1234澳``;
  ``CN_EMBASSY`` ``使`` + 6 digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from smartgate.schemas.base import Country

_SEPARATORS = re.compile(r"[\s.\-·_]+")


@lru_cache(maxsize=8192)
def plate_key(text: str) -> str:
    """Canonical key of a plate: upper case, no spaces, dots, dashes or middle dots.

    ``"29A-123.45"`` and ``"29a 12345"`` give the same key ``"29A12345"``.
    """
    key = _SEPARATORS.sub("", text).upper()
    if not key:
        raise ValueError(f"plate text {text!r} has no characters after normalisation")
    return key


# --------------------------------------------------------------------------- reference data

VN_PROVINCE_CODES: frozenset[str] = frozenset(
    f"{n:02d}" for n in (11, 12, *range(14, 42), 43, *range(47, 87), 88, 89, 90, 92, 93, 94, 95, 97, 98, 99)
)
"""Province codes in use (Circular 58/2020 Appendix 02, unchanged by the 2025 province mergers, which
kept every code). Never issued: 00–10, 13, 42, 44–46, 87, 91, 96. 80 is for central agencies and
foreign missions registered by the traffic police department."""

VN_SERIES_LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
"""The 20 series letters; I, J, O, Q, W are never used and R is only for trailers."""

VN_SPECIAL_SERIES: frozenset[str] = frozenset({"LD", "KT", "DA", "MK", "TĐ", "TD", "HC"})
"""Two-letter series on car-style plates (``TD`` is how a reader without Đ sees ``TĐ``)."""

VN_FOREIGN_SERIES: frozenset[str] = frozenset({"NG", "QT", "CV", "NN"})

CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CN_AUTHORITY_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A–Z without I and O
CN_SERIAL_CHARACTERS = CN_AUTHORITY_LETTERS + "0123456789"
CN_ENERGY_LETTERS = "DABCEFGHJK"  # D A B C E: battery-electric; F G H J K: other new-energy
CN_SUFFIXES = "挂警学领港澳"

_PROV = "(?P<province>" + "|".join(sorted(VN_PROVINCE_CODES)) + ")"
_L20 = f"[{VN_SERIES_LETTERS}]"
_NUM = "(?P<number>[0-9]{4,5})"
_CN_P = f"(?P<province>[{CN_PROVINCES}])"
_CN_L = f"(?P<letter>[{CN_AUTHORITY_LETTERS}])"
_CN_S = f"[{CN_SERIAL_CHARACTERS}]"


# --------------------------------------------------------------------------- formats


def _vn_number(number: str) -> str:
    return f"{number[:3]}.{number[3:]}" if len(number) == 5 else number


def _vn_car(m: re.Match[str], rows: int) -> str:
    return f"{m['province']}{m['series']}{'-' if rows == 1 else ' '}{_vn_number(m['number'])}"


def _vn_motorbike(m: re.Match[str], rows: int) -> str:
    return f"{m['province']}-{m['series']} {_vn_number(m['number'])}"


def _vn_foreign(m: re.Match[str], rows: int) -> str:
    return f"{m['province']}-{m['nation']}-{m['series']}-{m['order']}"


def _cn(m: re.Match[str], rows: int) -> str:
    return f"{m['province']}{m['letter']}{'·' if rows == 1 else ' '}{m['serial']}"


def _cn_embassy(m: re.Match[str], rows: int) -> str:
    return f"使{m['serial'][:3]}·{m['serial'][3:]}"


@dataclass(frozen=True)
class PlateFormat:
    """One plate format: its regular expression on the key and how it is printed.

    ``rows`` lists the row layouts the plate comes in, the usual one first (it is used when the read
    does not show the layout). ``render`` prints a match in a given number of rows.
    """

    name: str
    country: Country
    rows: tuple[int, ...]
    pattern: re.Pattern[str]
    render: Callable[[re.Match[str], int], str] = field(compare=False, repr=False)
    example: str = ""

    def match(self, key: str) -> re.Match[str] | None:
        m = self.pattern.fullmatch(key)
        if m is None:
            return None
        number = m.groupdict().get("number")
        if number is not None and not number.strip("0"):  # 000.00 / 0000 are never issued
            return None
        return m

    def display(self, key: str, rows: int | None = None) -> str:
        m = self.match(key)
        if m is None:
            raise ValueError(f"{key!r} is not a {self.name} plate")
        return self.render(m, rows if rows in self.rows else self.rows[0])


def _fmt(
    name: str,
    country: Country,
    rows: tuple[int, ...],
    regex: str,
    render: Callable[[re.Match[str], int], str],
    example: str,
) -> PlateFormat:
    return PlateFormat(name, country, rows, re.compile(regex), render, example)


_VN, _CN = Country.VN, Country.CN

PLATE_FORMATS: tuple[PlateFormat, ...] = (
    # Order matters only for keys that fit two formats (67M23789: car 67M-237.89 or motorbike
    # 67-M2 3789; 29AB12345: 29-AB 123.45 or 29-AB1 2345): the layout of the read decides, and
    # without one the earlier format wins.
    _fmt("VN_CAR", _VN, (1, 2), f"{_PROV}(?P<series>{_L20}){_NUM}", _vn_car, "29A-123.45"),
    _fmt("VN_TRAILER", _VN, (1, 2), f"{_PROV}(?P<series>R){_NUM}", _vn_car, "29R-012.34"),
    _fmt(
        "VN_SPECIAL",
        _VN,
        (1, 2),
        f"{_PROV}(?P<series>{'|'.join(sorted(VN_SPECIAL_SERIES))}){_NUM}",
        _vn_car,
        "29LD-123.45",
    ),
    _fmt(
        "VN_FOREIGN",
        _VN,
        (1,),
        f"{_PROV}(?P<nation>[0-9]{{3}})(?P<series>{'|'.join(sorted(VN_FOREIGN_SERIES))})(?P<order>[0-9]{{2,3}})",
        _vn_foreign,
        "41-291-NG-01",
    ),
    _fmt("VN_MOTORBIKE_LL", _VN, (2,), f"{_PROV}(?P<series>{_L20}{_L20}){_NUM}", _vn_motorbike, "29-AB 123.45"),
    _fmt(
        "VN_MOTORBIKE",
        _VN,
        (2,),
        f"{_PROV}(?P<series>{_L20}[{VN_SERIES_LETTERS}Đ]?[1-9]){_NUM}",
        _vn_motorbike,
        "79-N1 791.17",
    ),
    _fmt("CN_STANDARD", _CN, (1, 2), f"{_CN_P}{_CN_L}(?P<serial>{_CN_S}{{5}})", _cn, "皖A·YL375"),
    _fmt(
        "CN_NEW_ENERGY",
        _CN,
        (1, 2),
        f"{_CN_P}{_CN_L}(?P<serial>[{CN_ENERGY_LETTERS}]{_CN_S}[0-9]{{4}}|[0-9]{{5}}[{CN_ENERGY_LETTERS}])",
        _cn,
        "粤B·D12345",
    ),
    _fmt("CN_TRAILER", _CN, (2, 1), f"{_CN_P}{_CN_L}(?P<serial>{_CN_S}{{4}}挂)", _cn, "冀A 1234挂"),
    _fmt("CN_POLICE", _CN, (1, 2), f"{_CN_P}{_CN_L}(?P<serial>{_CN_S}{{4}}警)", _cn, "京A·0001警"),
    _fmt("CN_COACH", _CN, (1,), f"{_CN_P}{_CN_L}(?P<serial>{_CN_S}{{4}}学)", _cn, "粤A·1234学"),
    _fmt("CN_CONSULATE", _CN, (1,), f"{_CN_P}{_CN_L}(?P<serial>{_CN_S}{{4}}领)", _cn, "沪A·1234领"),
    _fmt("CN_HK_MACAO", _CN, (1,), f"(?P<province>粤)(?P<letter>Z)(?P<serial>{_CN_S}{{4}}[港澳])", _cn, "粤Z·1234港"),
    _fmt("CN_EMBASSY", _CN, (1,), "使(?P<serial>[0-9]{6})", _cn_embassy, "使014·578"),
)

FORMATS_BY_NAME: dict[str, PlateFormat] = {f.name: f for f in PLATE_FORMATS}


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class PlateValidation:
    """What a read is: its key, country and format, and its canonical printed form; or why it is none.

    ``display`` is the canonical form when valid and the text as read (trimmed) when not — an invalid
    read is never rewritten. ``reason`` names the part that is wrong.
    """

    text: str
    key: str
    country: Country | None
    valid: bool
    format_name: str | None = None
    rows: int | None = None
    display: str = ""
    reason: str | None = None


def _boundaries(text: str) -> dict[int, str]:
    """Where the text separates its characters: key position -> "row" (whitespace) or "mark" (- . ·)."""
    out: dict[int, str] = {}
    count, gap = 0, ""
    for ch in text:
        if _SEPARATORS.fullmatch(ch):
            gap += ch
            continue
        if gap and count:
            out[count] = "row" if any(c.isspace() for c in gap) else "mark"
        gap = ""
        count += 1
    return out


def _layout_score(read: dict[int, str], printed: dict[int, str]) -> float:
    score = 0.0
    for pos, kind in read.items():
        if pos in printed:
            score += 1.0 + (0.5 if printed[pos] == kind else 0.0)
        else:
            score -= 0.5
    return score


def _best_layout(text: str, key: str, formats: list[PlateFormat], rows: int | None) -> tuple[PlateFormat, int, str]:
    """Among the formats the key fits, the one (and row count) whose printed form is laid out like the read."""
    read = _boundaries(text)
    options = [(f, r) for f in formats for r in f.rows if rows is None or r == rows]
    if not options:  # the asked-for row count fits none of them: fall back to each format's own
        options = [(f, r) for f in formats for r in f.rows]
    best: tuple[float, int, PlateFormat, int, str] | None = None
    for order, (fmt, r) in enumerate(options):
        printed = fmt.display(key, r)
        score = _layout_score(read, _boundaries(printed))
        if best is None or score > best[0]:
            best = (score, order, fmt, r, printed)
    assert best is not None
    return best[2], best[3], best[4]


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _detect_country(key: str) -> Country | None:
    if key[:1] in CN_PROVINCES or key[:1] == "使":
        return Country.CN
    if any(f.match(key) for f in PLATE_FORMATS if f.country is Country.VN):
        return Country.VN
    return None


def validate_plate(text: str, country: Country | str | None = None, *, rows: int | None = None) -> PlateValidation:
    """Validate a plate read and give its canonical printed form.

    ``country`` restricts the formats; when None it is detected: CN when the key starts with a
    province abbreviation (or 使), VN when it fits a Vietnamese format. ``rows`` (1 or 2), when
    known, chooses the printed layout; otherwise the separators of the read do (a space between
    rows, ``-`` and ``.`` inside one), and without any the format's usual layout is used.
    Separators and case never change validity, only the layout.
    """
    stripped = text.strip()
    try:
        key = plate_key(text)
    except ValueError:
        return PlateValidation(
            text, "", Country(country) if country else None, False, display=stripped, reason="no characters in the read"
        )
    given = Country(country) if country else None
    wanted = given or _detect_country(key)
    formats = [f for f in PLATE_FORMATS if (wanted is None or f.country is wanted) and f.match(key)]
    if formats:
        fmt, used_rows, display = _best_layout(text, key, formats, rows)
        return PlateValidation(text, key, fmt.country, True, fmt.name, used_rows, display)
    if wanted is None:
        looks_cn = _is_cjk(key[0])
        reason = _diagnose_cn(key) if looks_cn else _diagnose_vn(key)
    else:
        reason = _diagnose_cn(key) if wanted is Country.CN else _diagnose_vn(key)
    return PlateValidation(text, key, wanted, False, display=stripped, reason=reason)


def plate_format_valid(plate_text: str, country: Country | str) -> bool:
    """Whether the text is a plate of that country in one of the known formats."""
    return validate_plate(plate_text, Country(country)).valid


# --------------------------------------------------------------------------- reasons


def _first_bad(text: str, allowed: str) -> str | None:
    return next((c for c in text if c not in allowed), None)


def _diagnose_vn(key: str) -> str:
    province = key[:2]
    if len(province) < 2 or not (province.isascii() and province.isdigit()):
        return f"province code must be two digits, got {province!r}"
    bad = _first_bad(key, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ")
    if bad is not None:
        return f"unexpected character {bad!r} in a Vietnamese plate"
    if province not in VN_PROVINCE_CODES:
        return f"province code {province} does not exist"
    rest = key[2:]
    foreign = re.fullmatch(r"([0-9]*)(NG|QT|CV|NN)(.*)", rest)
    if foreign:
        nation, series, order = foreign.groups()
        if len(nation) != 3:
            return f"{series} plate needs a 3-digit nationality code before {series}, got {nation!r}"
        if not re.fullmatch(r"[0-9]{2,3}", order):
            return f"{series} plate needs a 2- or 3-digit order number after {series}, got {order!r}"
        return "does not match any Vietnamese plate format"
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZĐ"
    series = rest[: len(rest) - len(rest.lstrip(letters))]
    if not series:
        return f"series must be letters, got {rest[:1]!r}" if rest else "series and number are missing"
    for letter in series:
        if letter in "IJOQW":
            return f"series letter {letter} is not used in Vietnam (I, J, O, Q, W never are)"
    if len(series) > 2:
        return f"series {series} is too long (one or two letters)"
    after = rest[len(series) :]
    digit = after[:1] if len(after) == 6 or (len(after) == 5 and len(series) == 2) else ""
    number = after[len(digit) :]
    if digit == "0":
        return "series digit must be 1-9, got 0"
    if not number:
        return "registration number is missing"
    if not number.isdigit():
        return f"registration number must be digits, got {number!r}"
    if len(number) not in (4, 5):
        return f"registration number must be 4 or 5 digits, got {len(number)}"
    if not number.strip("0"):
        return f"registration number {_vn_number(number)} is never issued"
    if "R" in series and series != "R":
        return f"series {series}: R is only used alone, for trailers"
    if len(series) == 2 and not digit:
        return f"two-letter series {series} is not a known Vietnamese series"
    return "does not match any Vietnamese plate format"


def _diagnose_cn(key: str) -> str:
    first = key[0]
    if first == "使":
        digits = key[1:]
        if not re.fullmatch(r"[0-9]{6}", digits):
            return f"embassy plate 使 needs 6 digits, got {digits!r}"
        return "does not match any Chinese plate format"
    if first not in CN_PROVINCES:
        if _is_cjk(first):
            return f"{first!r} is not a Chinese province abbreviation"
        return f"CN plate needs a province character, got {first!r}"
    if len(key) < 2:
        return "issuing-authority letter is missing"
    letter = key[1]
    if letter not in CN_AUTHORITY_LETTERS:
        return f"issuing-authority code must be a letter A-Z other than I and O, got {letter!r}"
    rest = key[2:]
    suffix = rest[-1:] if rest[-1:] in CN_SUFFIXES else ""
    body = rest[: len(rest) - len(suffix)]
    for ch in body:
        if ch in "IO":
            return "letters I and O are not used in Chinese plate serials"
        if ch not in CN_SERIAL_CHARACTERS:
            return f"unexpected character {ch!r} in the serial"
    if suffix:
        if suffix in "港澳" and key[:2] != "粤Z":
            return f"{suffix} cross-border plates are issued as 粤Z, got {key[:2]}"
        return f"serial before {suffix} must be 4 characters, got {len(body)}"
    if len(body) == 6:
        return (
            f"new-energy serial must be an energy letter ({CN_ENERGY_LETTERS}), a letter or digit and "
            f"4 digits, or 5 digits and an energy letter; got {body}"
        )
    return f"serial must be 5 characters (6 on new-energy plates), got {len(body)}"
