"""Container codes (ISO 6346) from a frame: detect text lines, read them, find the code, check it.

The code may be printed on one line (``MSKU 601167 [2]``) or split over lines (owner code above the
serial); lines are joined in reading order and searched. A code whose check digit fails may have one
OCR confusion corrected — only when the check digit proves it (``correct_container``).
"""

from __future__ import annotations

import re

import numpy as np

from smartgate.domain.containers import correct_container
from smartgate_edge.vision.reader import _as_bgr
from smartgate_edge.vision.recognizer import TextRecognizer
from smartgate_edge.vision.text_detector import TextDetector
from smartgate_edge.vision.types import ContainerReading

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CANDIDATE = re.compile(r"(?=([A-Z0-9]{4}[0-9A-Z]{7}))")


class ContainerReader:
    def __init__(
        self, threads: int = 2, detector: TextDetector | None = None, recognizer: TextRecognizer | None = None
    ) -> None:
        self.detector = detector or TextDetector(threads)
        self.recognizer = recognizer or TextRecognizer(threads, alphabet=ALPHABET)

    def read(self, image: np.ndarray, max_side: int = 960) -> list[ContainerReading]:
        image = _as_bgr(image)
        quads = self.detector.detect(image, max_side)
        if not quads:
            return []
        # Read each text row as one image (the union of its boxes): the check digit is often in a
        # frame of its own, which the detector cuts apart from the rest of the code.
        crops: list[tuple[np.ndarray, np.ndarray]] = []
        for row in _rows(quads):
            points = np.concatenate([quads[i] for i in row])
            x1, y1 = points.min(axis=0)
            x2, y2 = points.max(axis=0)
            pad = 0.15 * (y2 - y1)
            # the check digit stands right of the serial in a frame the detector often misses: reach for it
            reach = 1.6 * (y2 - y1)
            box = (int(max(0, x1 - pad)), int(max(0, y1 - pad)), int(x2 + reach), int(y2 + pad))
            crop = image[box[1] : box[3], box[0] : box[2]]
            if crop.size:
                crops.append((points, crop))
        if not crops:
            return []
        lines = self.recognizer.recognize([crop for _, crop in crops], max_width=640)
        found: dict[str, ContainerReading] = {}
        for start in range(len(lines)):
            for end in range(start + 1, min(start + 3, len(lines)) + 1):
                joined = "".join(ln.text for ln in lines[start:end])
                confidences = [c for ln in lines[start:end] for c in ln.confidences]
                for match in _CANDIDATE.finditer(joined):
                    text = match.group(1)
                    offset = match.start(1)
                    char_conf = confidences[offset : offset + len(text)]
                    result = correct_container(text, char_conf if len(char_conf) == len(text) else None)
                    if not result.check_digit_ok and not _shape_ok(text):
                        continue
                    quad_points = np.concatenate([q for q, _ in crops[start:end]])
                    x1, y1 = quad_points.min(axis=0).astype(int)
                    x2, y2 = quad_points.max(axis=0).astype(int)
                    reading = ContainerReading(
                        text=result.text,
                        check_digit_ok=result.check_digit_ok,
                        corrected=result.corrected,
                        confidence=round(float(np.exp(np.mean(np.log(np.clip(char_conf or [0.0], 1e-6, 1))))), 4),
                        box=(max(0, int(x1)), max(0, int(y1)), int(x2), int(y2)),
                        crop=crops[start][1],
                    )
                    best = found.get(reading.text)
                    if best is None or reading.confidence > best.confidence:
                        found[reading.text] = reading
        return sorted(found.values(), key=lambda r: (not r.check_digit_ok, r.corrected, -r.confidence))


def _rows(quads: list[np.ndarray]) -> list[list[int]]:
    """Indexes of the quads grouped into text rows (vertical overlap), each row left to right, rows top down."""
    order = sorted(range(len(quads)), key=lambda i: float(quads[i][:, 1].mean()))
    rows: list[list[int]] = []
    for i in order:
        top, bottom = float(quads[i][:, 1].min()), float(quads[i][:, 1].max())
        centre = (top + bottom) / 2
        for row in rows:
            r_top = min(float(quads[j][:, 1].min()) for j in row)
            r_bottom = max(float(quads[j][:, 1].max()) for j in row)
            if r_top <= centre <= r_bottom:
                row.append(i)
                break
        else:
            rows.append([i])
    return [sorted(row, key=lambda i: float(quads[i][:, 0].min())) for row in rows]


def _shape_ok(text: str) -> bool:
    """Letters where letters belong and digits where digits belong: worth reporting even if unchecked."""
    return bool(re.fullmatch(r"[A-Z]{3}[UJZ][0-9]{7}", text))
