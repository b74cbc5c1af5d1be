"""ISO 6346 container codes: owner code (3 letters), category (U/J/Z), 6-digit serial, check digit."""

from __future__ import annotations

import re

_CODE = re.compile(r"[A-Z]{3}[UJZ]\d{7}")


def _letter_values() -> dict[str, int]:
    values, value = {}, 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:  # 11, 22, 33 are skipped
            value += 1
        values[letter] = value
        value += 1
    return values


_LETTERS = _letter_values()


def container_check_digit_ok(container_no: str) -> bool:
    """True when the code has the ISO 6346 shape and its last digit is the right check digit."""
    code = container_no.replace(" ", "").upper()
    if not _CODE.fullmatch(code):
        return False
    total = sum((_LETTERS.get(ch) or int(ch)) * 2**i for i, ch in enumerate(code[:10]))
    return total % 11 % 10 == int(code[10])
