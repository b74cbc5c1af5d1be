"""Licence plate text: normalisation used to match reads against bookings.

Format validation per country grows in the lane-vision work; matching only needs a canonical key.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-·_]+")


def plate_key(text: str) -> str:
    """Canonical key of a plate: upper case, no spaces, dots, dashes or middle dots.

    ``"29A-123.45"`` and ``"29a 12345"`` give the same key ``"29A12345"``.
    """
    key = _SEPARATORS.sub("", text).upper()
    if not key:
        raise ValueError(f"plate text {text!r} has no characters after normalisation")
    return key
