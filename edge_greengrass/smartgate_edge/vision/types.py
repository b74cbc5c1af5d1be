"""What the lane vision pipeline produces for one frame (before frames are merged per vehicle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from smartgate.schemas import Country


@dataclass(frozen=True)
class Frame:
    """One image from a source: BGR uint8 HxWx3, when it was captured, and where it came from."""

    image: np.ndarray
    captured_at: datetime
    index: int
    source: str


@dataclass(frozen=True)
class PlateReading:
    """A plate found and read in one frame."""

    text: str  # as read, normalised to the country's printed form when valid
    country: Country | None  # None when the text fits neither country's formats
    format_valid: bool
    confidence: float  # product-like overall confidence in [0, 1]
    char_confidences: tuple[float, ...]
    rows: int  # 1 or 2 rows of characters
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels
    crop: np.ndarray = field(repr=False)  # the rectified plate image (BGR), evidence


@dataclass(frozen=True)
class ContainerReading:
    """An ISO 6346 container code found in one frame."""

    text: str
    check_digit_ok: bool
    corrected: bool  # a single OCR confusion was corrected because the check digit proves it
    confidence: float
    box: tuple[int, int, int, int]
    crop: np.ndarray = field(repr=False)


class PlateReader(Protocol):
    def read(self, image: np.ndarray) -> list[PlateReading]:
        """Every plate found in a BGR frame, best first. Raises ValueError for an empty/corrupt image."""
        ...
