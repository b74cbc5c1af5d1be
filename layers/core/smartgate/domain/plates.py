"""Licence plate text: normalisation used to match reads against bookings.

Format validation per country grows in the lane-vision work; matching only needs a canonical key.
"""

from __future__ import annotations

import re

from smartgate.schemas import Country

_SEPARATORS = re.compile(r"[\s.\-·_]+")


def plate_key(text: str) -> str:
    """Canonical key of a plate: upper case, no spaces, dots, dashes or middle dots.

    ``"29A-123.45"`` and ``"29a 12345"`` give the same key ``"29A12345"``.
    """
    key = _SEPARATORS.sub("", text).upper()
    if not key:
        raise ValueError(f"plate text {text!r} has no characters after normalisation")
    return key


_PLATE_FORMATS = {
    # 29C-123.45, 29LD-123.45 (normalised: 29C12345, 29LD12345)
    Country.VN: re.compile(r"^\d{2}[A-Z]{1,2}\d{4,5}$"),
    # 云A·12345, 桂A12345D (new-energy plates have six characters after the region letter)
    Country.CN: re.compile(r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}$"),
}


def plate_format_valid(plate_text: str, country: Country | str) -> bool:
    """Whether the text looks like a plate of that country (a first, coarse check of the format)."""
    try:
        key = plate_key(plate_text)
    except ValueError:
        return False
    return bool(_PLATE_FORMATS[Country(country)].match(key))
